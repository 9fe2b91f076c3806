/**
 * The expressions rules (registered in rules/index.ts): CEL and templates, variables, and
 * the secure data-flow rules built on the same listing (lint/expressions.ts, lint/security.ts).
 */
import type { Rule } from '../types.js';
import { rule as invalidExpression } from './invalid-expression.js';
import { rule as secureCollectTarget } from './secure-collect-target.js';
import { rule as secureDataLeak } from './secure-data-leak.js';
import { rule as secureEntryRecording } from './secure-entry-recording.js';
import { rule as twilioSecureReadback } from './twilio-secure-readback.js';
import { rule as undefinedVariable } from './undefined-variable.js';
import { rule as unusedVariable } from './unused-variable.js';

export const EXPRESSIONS_RULES: readonly Rule[] = [
  invalidExpression,
  undefinedVariable,
  unusedVariable,
  secureCollectTarget,
  secureDataLeak,
  secureEntryRecording,
  twilioSecureReadback,
];
