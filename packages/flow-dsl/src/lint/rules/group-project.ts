/**
 * The project rules (registered in rules/index.ts): references between the flows of a
 * project and to the targets and data actions its config declares.
 */
import type { Rule } from '../types.js';
import { rule as duplicateFlow } from './duplicate-flow.js';
import { rule as recursiveFlow } from './recursive-flow.js';
import { rule as unknownAction } from './unknown-action.js';
import { rule as unknownFlow } from './unknown-flow.js';
import { rule as unknownTarget } from './unknown-target.js';

export const PROJECT_RULES: readonly Rule[] = [unknownFlow, duplicateFlow, recursiveFlow, unknownTarget, unknownAction];
