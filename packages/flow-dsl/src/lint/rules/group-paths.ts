/**
 * The paths rules (registered in rules/index.ts).
 */
import type { Rule } from '../types.js';

export const PATHS_RULES: readonly Rule[] = [];
