/**
 * The project rules (registered in rules/index.ts).
 */
import type { Rule } from '../types.js';

export const PROJECT_RULES: readonly Rule[] = [];
