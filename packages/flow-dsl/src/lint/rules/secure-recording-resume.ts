/**
 * `secure-recording-resume`: in a secure flow the call recording stays paused for the whole
 * secure session, and the runtime resumes it after the session ends. A `recording: resume`
 * inside the flow would record the caller keying in card numbers or codes.
 */
import type { Rule } from '../types.js';

export const rule: Rule = {
  meta: {
    name: 'secure-recording-resume',
    description: 'recording: resume inside a secure flow (recording stays paused for the whole secure session).',
    defaultSeverity: 'error',
    docs: 'docs/rules/secure-recording-resume.md',
    help: 'Remove the resume: the runtime resumes the recording when the secure session ends.',
  },
  check(ctx) {
    const { flow } = ctx;
    if (flow.kind !== 'secure') return;
    for (const name of ctx.analysis.statesWith('recording')) {
      const body = (flow.states[name] as { recording?: unknown }).recording;
      const path =
        body === 'resume'
          ? ['states', name, 'recording']
          : body && typeof body === 'object' && (body as { action?: unknown }).action === 'resume'
            ? ['states', name, 'recording', 'action']
            : undefined;
      if (!path) continue;
      ctx.report({
        path,
        message: `states.${name}.recording: recording stays paused for the whole secure session and the runtime resumes it afterwards; remove this resume (a recording would capture what the caller keys in)`,
      });
    }
  },
};
