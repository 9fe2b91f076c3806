/**
 * The rule registry: every rule of `callflow lint`, by group.
 */
import type { Rule } from '../types.js';
import { rule as duplicateOption } from './duplicate-option.js';
import { EXPRESSIONS_RULES } from './group-expressions.js';
import { PATHS_RULES } from './group-paths.js';
import { PROJECT_RULES } from './group-project.js';
import { rule as schema } from './schema.js';

/** Every rule, in a stable order. */
export const RULES: readonly Rule[] = [schema, duplicateOption, ...PATHS_RULES, ...EXPRESSIONS_RULES, ...PROJECT_RULES];

/** A rule by name. */
export function ruleByName(name: string): Rule | undefined {
  return RULES.find((r) => r.meta.name === name);
}
