// Redaction benchmark (npm run bench in flow-core, after the build): the cost of redacting a
// text, in µs per KB, for 10 KB, 100 KB and 1 MB texts of the shapes that made the former
// patterns backtrack, through a session's redactor (secure values and every pattern). Each
// detector reads each character a bounded number of times, so the cost per KB must not grow
// with the text: the ratio of the 1 MB cost per KB to the 10 KB one stays under 2.
// Figures are the fastest of several samples (a busy machine slows some, never speeds one up).
import { Redactor } from '../dist/index.js';

const KB = 1024;
const SIZES = [10 * KB, 100 * KB, 1024 * KB];
const MAX_RATIO = 2;
const CARD = '4916338506082832';

const session = new Redactor().with(['+15555550100', CARD, '737', 'Margaret Smith']);

/** A text of about `size` code units: whole copies of `unit` (every size is the same case). */
const repeated = (unit) => (size) => unit.repeat(Math.max(1, Math.round(size / unit.length)));

const SHAPES = {
  'prose, ids and numbers': repeated('Caller 01e36271-2907-40a3-9522-175565031878 pressed 1; turn 42 took 123ms; agent agent-7 said hello. '),
  'e-mail characters, no @domain': repeated('a.b-c_d%e+f'),
  'digits': repeated('1234567890'),
  'digits and separators': repeated('1 2-3 (4) 5.'),
  // One digit run: no piece of it is a whole token, so each long value is searched for in it.
  "a secret's prefix": (size) => `9${repeated(CARD.slice(0, 15))(size - 2)}9`,
  'addresses and phones': repeated('mail jo.bloggs@example.com or call +1 555 555 0123. '),
};

/**
 * The fastest of `samples` samples, in ms per call. A sample redacts 1 MB in all (100 calls on
 * 10 KB texts, one on a 1 MB text), so every size is as exposed to a busy machine's pauses.
 */
function fastest(text, samples) {
  const calls = Math.max(1, Math.round((1024 * KB) / text.length));
  let best = Infinity;
  for (let s = 0; s < samples; s++) {
    const t = performance.now();
    for (let i = 0; i < calls; i++) session.redactText(text);
    best = Math.min(best, (performance.now() - t) / calls);
  }
  return best;
}

let failed = false;
console.log('redaction: µs per KB (fastest of several samples)\n');
console.log(`${'shape'.padEnd(32)}${SIZES.map((s) => `${s / KB} KB`.padStart(12)).join('')}${'ratio'.padStart(10)}`);
for (const [name, make] of Object.entries(SHAPES)) {
  const perKb = SIZES.map((size) => {
    const text = make(size);
    fastest(text, 2); // warm up: compile, flatten the text
    return (fastest(text, 12) * 1000) / (text.length / KB);
  });
  const ratio = perKb.at(-1) / perKb[0];
  if (ratio >= MAX_RATIO) failed = true;
  console.log(`${name.padEnd(32)}${perKb.map((v) => v.toFixed(2).padStart(12)).join('')}${`${ratio.toFixed(2)}x`.padStart(10)}`);
}
console.log(`\nratio: the 1 MB cost per KB over the 10 KB one (target under ${MAX_RATIO}x)${failed ? ' — NOT MET' : ''}`);
if (failed) process.exitCode = 1;
