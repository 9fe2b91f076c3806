/**
 * Building blocks shared by every action schema: names, durations, CEL expressions,
 * `${}` text templates and the value types of inputs, outputs and variables.
 */
import { z } from 'zod';

/** A state, flow, variable or action name: a letter, then letters, digits, `_` or `-`. */
export const Identifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, 'a name starts with a letter and holds only letters, digits, _ and -')
  .meta({ id: 'Identifier', description: 'A name: a letter, then letters, digits, _ or -' });

/** A variable name that CEL can read: no `-`. */
export const VariableName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a variable name starts with a letter and holds only letters, digits and _')
  .meta({ id: 'VariableName', description: 'A variable name (letters, digits and _), readable from CEL' });

/** The name of a state in the same flow. */
export const StateRef = Identifier.meta({ id: 'StateRef', description: 'The name of a state of this flow' });

/** `500ms`, `8s`, `2m`, `1h` or a number of seconds. */
export const Duration = z
  .union([
    z.string().regex(/^\d+(\.\d+)?(ms|s|m|h)$/, "a duration such as '500ms', '8s', '2m' or a number of seconds"),
    z.number().nonnegative(),
  ])
  .meta({ id: 'Duration', description: "A duration: '500ms', '8s', '2m', '1h', or a number of seconds" });

/** A CEL expression over the flow's inputs and variables (plus `call`, `result`, `value` where said). */
export const Expression = z
  .union([z.string().min(1), z.number(), z.boolean()])
  .meta({
    id: 'Expression',
    description: 'A CEL expression over the flow inputs and variables, `call`, and `result`/`value` where documented',
  });

/** Text with `${CEL}` placeholders, spoken or written as is otherwise. */
export const Template = z
  .string()
  .meta({ id: 'Template', description: 'Text; ${...} interpolates a CEL expression' });

/** Assignments `{ name: CEL }`. */
export const ExpressionMap = z.record(z.string(), Expression);

/** The value types of the flow language, CEL's own. */
export const ValueType = z
  .enum(['string', 'int', 'number', 'bool', 'map', 'list'])
  .meta({ id: 'ValueType', description: 'string | int | number (CEL double) | bool | map | list' });

/** A literal default for a variable. */
export const Literal = z.union([
  z.string(),
  z.number(),
  z.boolean(),
  z.null(),
  z.array(z.unknown()),
  z.record(z.string(), z.unknown()),
]);

/** A declared input of a flow. */
export const InputDecl = z
  .object({
    type: ValueType,
    required: z.boolean().optional(),
    secure: z.boolean().optional().describe('The caller of this flow hands in a secure value'),
    personal: z.boolean().optional().describe('Personal data of the caller: sealed, never logged, kept off agent screens for protected identities'),
    declassify: z
      .enum(['never', 'last4'])
      .optional()
      .describe('never: last4()/mask() of this secure value stay secure (a security code, a PIN); last4: it is long enough to be shown masked (a card number handed in whole)'),
    default: Literal.optional(),
    description: z.string().optional(),
  })
  .strict()
  .meta({ id: 'InputDecl' });

/** A declared output of a flow (handed back by returnToAgent / return). */
export const OutputDecl = z
  .object({
    type: ValueType,
    description: z.string().optional(),
  })
  .strict()
  .meta({ id: 'OutputDecl' });

/** A variable of a flow. */
export const VariableDecl = z
  .object({
    type: ValueType,
    secure: z.boolean().optional().describe('Never logged, emitted, persisted in clear or shown to an agent'),
    personal: z.boolean().optional().describe('Personal data of the caller: sealed, never logged, kept off agent screens for protected identities'),
    declassify: z
      .enum(['never', 'last4'])
      .optional()
      .describe('never: last4()/mask() of this secure value stay secure (a security code, a PIN); last4: it is long enough to be shown masked (a card number handed in whole)'),
    default: Literal.optional(),
    description: z.string().optional(),
  })
  .strict()
  .meta({ id: 'VariableDecl' });

/** Spoken text, or a richer prompt. */
export const Prompt = z.union([
  Template,
  z
    .object({
      text: Template.optional(),
      play: Template.optional().describe('An audio URL to play instead of text'),
      voice: z.string().optional(),
      language: z.string().optional(),
    })
    .strict(),
]).meta({ id: 'Prompt', description: 'Text to speak (with ${} placeholders), or { text, play, voice, language }' });

/** Inferred TypeScript types. */
export type ValueTypeName = z.infer<typeof ValueType>;
export type InputDeclaration = z.infer<typeof InputDecl>;
export type OutputDeclaration = z.infer<typeof OutputDecl>;
export type VariableDeclaration = z.infer<typeof VariableDecl>;
export type PromptSpec = z.infer<typeof Prompt>;
export type DurationSpec = z.infer<typeof Duration>;
export type ExpressionSpec = z.infer<typeof Expression>;
