/**
 * `duplicate-flow`: two files of the project declare the same `flow:` name. References
 * (`callFlow`, `enterSecureFlow`, `transfer.flow`) resolve to the first file, so the later one
 * can never be reached by name. Reported on each later file, naming the first.
 */
import { dirname, relative } from 'node:path';
import type { Rule } from '../types.js';

export const rule: Rule = {
  meta: {
    name: 'duplicate-flow',
    description: 'Two files of the project declare the same flow name; references resolve to the first one only.',
    defaultSeverity: 'error',
    docs: 'docs/rules/duplicate-flow.md',
    help: 'Give every flow of the project a unique `flow:` name (rename one of them, and the references to it).',
  },
  check(ctx) {
    // The project index keeps the first flow loaded under each name.
    const first = ctx.project.flows.get(ctx.flow.flow);
    if (!first || first.file === ctx.file) return;
    ctx.report({
      path: ['flow'],
      message: `flow: the name '${ctx.flow.flow}' is already declared by ${relative(dirname(ctx.file), first.file) || first.file}; give this flow a unique name (references resolve to the first file only)`,
    });
  },
};
