/**
 * `secure-entry-recording` (warning): a secure value is keyed in (`collect.into` a secure
 * variable) where the call recording may be running: the recording keeps the tones, from
 * which the digits can be read back. Inside secure flows the recording is always paused; in
 * other flows, pause it first (`recording: pause`). The facts are flow-core's information-flow
 * analysis (the same that follows the recording for read-backs).
 */
import { securityOf } from '../security.js';
import type { Rule } from '../types.js';

export const rule: Rule = {
  meta: {
    name: 'secure-entry-recording',
    description: 'A secure value is keyed in where the call recording may be running (the tones are recorded).',
    defaultSeverity: 'warn',
    docs: 'docs/rules/secure-entry-recording.md',
    help: 'Pause the recording before the collect (recording: pause) and resume it afterwards, or collect the value in a secure flow, which pauses the recording for its whole session.',
  },
  check(ctx) {
    for (const entry of securityOf(ctx).recordedEntries) {
      ctx.report({
        path: entry.path,
        message: `states.${entry.state}.collect.into: ${entry.message}`,
      });
    }
  },
};
