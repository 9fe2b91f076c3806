/**
 * The paths rules (registered in rules/index.ts): where the call can go, whether it can
 * end, loops, and which ending actions each kind of flow may use.
 */
import type { Rule } from '../types.js';
import { rule as busyLoop } from './busy-loop.js';
import { rule as deadEnd } from './dead-end.js';
import { rule as hangupHandler } from './hangup-handler.js';
import { rule as noTerminalPath } from './no-terminal-path.js';
import { rule as returnOutsideSubflow } from './return-outside-subflow.js';
import { rule as returnToAgentOutsideSecure } from './return-to-agent-outside-secure.js';
import { rule as secureIvrReturnToAgent } from './secure-ivr-return-to-agent.js';
import { rule as secureRecordingResume } from './secure-recording-resume.js';
import { rule as unboundedRetries } from './unbounded-retries.js';
import { rule as unknownState } from './unknown-state.js';
import { rule as unreachableState } from './unreachable-state.js';

export const PATHS_RULES: readonly Rule[] = [
  unknownState,
  unreachableState,
  deadEnd,
  noTerminalPath,
  busyLoop,
  unboundedRetries,
  secureIvrReturnToAgent,
  returnToAgentOutsideSecure,
  returnOutsideSubflow,
  hangupHandler,
  secureRecordingResume,
];
