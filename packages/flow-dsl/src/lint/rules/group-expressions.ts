/**
 * The expressions rules (registered in rules/index.ts).
 */
import type { Rule } from '../types.js';

export const EXPRESSIONS_RULES: readonly Rule[] = [];
