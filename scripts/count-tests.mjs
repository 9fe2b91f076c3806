// Adds up the vitest JSON reports of every package into one plain line: "N passed, N failed".
// A package whose tests did not run (no report) counts as one failure, so a broken build
// can never look like a green run with fewer tests.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
let passed = 0;
let failed = 0;
let skipped = 0;
for (const pkg of readdirSync(join(root, 'packages'))) {
  const report = join(root, 'packages', pkg, '.vitest-report.json');
  if (!existsSync(report)) {
    console.error(`${pkg}: no test report (its tests did not run)`);
    failed += 1;
    continue;
  }
  const r = JSON.parse(readFileSync(report, 'utf8'));
  passed += r.numPassedTests ?? 0;
  failed += r.numFailedTests ?? 0;
  skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  if (r.success === false && (r.numFailedTests ?? 0) === 0) failed += 1;
}
console.log(skipped > 0 ? `${passed} passed, ${failed} failed, ${skipped} skipped` : `${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
