// The README's main job: lint the example flow projects (clean), then a flow with deliberate
// mistakes, through the real `callflow` CLI as a user runs it.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const cli = join(root, 'packages', 'flow-dsl', 'dist', 'cli.js');

function run(title, args) {
  console.log(`\n$ callflow ${args.join(' ')}    # ${title}`);
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, stdio: 'inherit' });
  console.log(`(exit code ${r.status})`);
  return r.status;
}

const clean = run('the example flow projects', ['lint', 'examples']);
const broken = run('a payment flow with deliberate mistakes', ['lint', 'scripts/demo/broken-payment.yaml']);
if (clean !== 0 || broken !== 1) {
  console.error('\ndemo: unexpected result (examples should lint clean, the broken flow should fail)');
  process.exit(1);
}
console.log('\ndemo: the examples lint clean and every mistake in the broken flow was caught.');
