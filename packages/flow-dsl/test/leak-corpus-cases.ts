/**
 * Reads the leak corpus (test/leak-corpus/): one case per flow file, or per directory when a
 * case needs several flows (the entry is the file named like the directory; a
 * callflow.config.yaml there replaces the corpus config for lint and the CLI). A case's data
 * is the header comment of its entry file, written as YAML after `# `: what it tries, which
 * secret, through which sink, what lint and the runtime must say, what the caller keys in and
 * what the data actions answer. Secrets are written as placeholders (`{card}`), never as values.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { loadConfigText } from '../src/index.js';
import type { ProjectConfig } from '@callflow/flow-core';

/** The corpus directory. */
export const CORPUS_DIR = join(import.meta.dirname, 'leak-corpus');

/** The test values the scripted caller keys in and the data actions hand out. */
export const SECRETS = {
  card: '4916338506082832',
  cvv: '737',
  pin: '4821',
  expiry: '0829',
  phone: '+15555550123',
} as const;

/** A secret by name. */
export type SecretName = keyof typeof SECRETS;

const SecretName = z.enum(Object.keys(SECRETS) as [SecretName, ...SecretName[]]);
const Placeholders = z.array(z.string());

/** The header of a case's entry file. */
const Header = z
  .object({
    /** What the flow tries (a leak case) ... */
    leak: z.string().optional(),
    /** ... or what the flow legitimately does (a flow that must keep working). */
    legit: z.string().optional(),
    technique: z.enum(['chunking', 'arithmetic', 'string', 'list-map', 'implicit', 'sink', 'error-message', 'own', 'legit']),
    secret: z.union([SecretName, z.array(SecretName)]),
    sink: z.string(),
    /** The lint rule(s) that must report the case (and nothing else may), or `clean`. */
    lint: z.union([z.string(), z.array(z.string())]),
    /**
     * blocked: the runtime must refuse (an `error` event SECURE_LEAK_BLOCKED, or a code listed
     * in `refusal`); contained: nothing may leak, but the flow may run; runs: a legitimate flow.
     */
    runtime: z.enum(['blocked', 'contained', 'runs']),
    /** Other documented refusals that count for a blocked case (an `error` or `action.failed` code). */
    refusal: z.array(z.string()).optional(),
    /** What the caller does at each wait: digits, `noinput`, `hangup`, `code`, `smsfailed`, `paid`, `declined`. */
    caller: Placeholders,
    /** The entry flow's inputs. */
    inputs: z.record(z.string(), z.unknown()).optional(),
    /** Mocked data action results by action (`{ error: ... }` fails it); an action not listed fails. */
    actions: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
    /** What else must never appear (an encoding of a secret the detector would not recognise). */
    reveals: z.array(z.string()).optional(),
    /** A legitimate flow: how its call ends. */
    end: z.enum(['transfer', 'disconnect', 'returnToAgent', 'return', 'hangup']).optional(),
    /** The flow dials or texts a secure number as it may: connect.number and sendSms.to may hold it. */
    dial: z.boolean().optional(),
    /** Why the case matters, where the reason is not obvious. */
    why: z.string().optional(),
  })
  .strict()
  .refine((h) => (h.leak === undefined) !== (h.legit === undefined), 'a case says either leak: or legit:')
  .refine((h) => (h.legit === undefined) === (h.runtime !== 'runs'), 'runtime: runs is for legit: cases, and only for them');

/** A case's header. */
export type CaseHeader = z.infer<typeof Header>;

/** One case of the corpus. */
export interface LeakCase {
  name: string;
  header: CaseHeader;
  /** The entry flow file, then the case's other flow files. */
  files: { file: string; text: string }[];
  /** The project config: the corpus's, or the case directory's own callflow.config.yaml. */
  configText: string;
  config: ProjectConfig;
  /** The secrets the case is about. */
  secrets: SecretName[];
  /** The lint rules that must report it (empty: it must lint clean). */
  rules: string[];
  legit: boolean;
}

const CONFIG = 'callflow.config.yaml';

function configOf(file: string): { configText: string; config: ProjectConfig } {
  const configText = readFileSync(file, 'utf8');
  const loaded = loadConfigText(configText, file);
  if (!loaded.valid) throw new Error(`leak corpus: invalid ${file}: ${loaded.diagnostics.map((d) => d.message).join('; ')}`);
  return { configText, config: loaded.config };
}

/** The corpus's callflow.config.yaml (the data actions the host registers). */
export function corpusConfig(): ProjectConfig {
  return configOf(join(CORPUS_DIR, CONFIG)).config;
}

/** Every case, in name order. */
export function readCorpus(): LeakCase[] {
  return readdirSync(CORPUS_DIR)
    .filter((e) => (e.endsWith('.yaml') && e !== CONFIG) || statSync(join(CORPUS_DIR, e)).isDirectory())
    .sort()
    .map((entry) => readCase(join(CORPUS_DIR, entry)));
}

function readCase(path: string): LeakCase {
  const name = basename(path).replace(/\.yaml$/, '');
  const dir = statSync(path).isDirectory();
  const paths = dir
    ? readdirSync(path).filter((f) => f.endsWith('.yaml') && f !== CONFIG).sort((a, b) => (a === `${name}.yaml` ? -1 : b === `${name}.yaml` ? 1 : a.localeCompare(b))).map((f) => join(path, f))
    : [path];
  const files = paths.map((file) => ({ file, text: readFileSync(file, 'utf8') }));
  if (basename(files[0]!.file) !== `${name}.yaml`) throw new Error(`leak corpus: ${name}/ has no ${name}.yaml (the case's entry flow)`);
  let data: unknown;
  try {
    data = parse(headerOf(files[0]!.text));
  } catch (error) {
    throw new Error(`leak corpus: ${name}: the header is not YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  const parsed = Header.safeParse(data);
  if (!parsed.success) throw new Error(`leak corpus: ${name}: bad header: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const header = parsed.data;
  const ownConfig = dir && existsSync(join(path, CONFIG));
  return {
    name,
    header,
    files,
    ...configOf(ownConfig ? join(path, CONFIG) : join(CORPUS_DIR, CONFIG)),
    secrets: typeof header.secret === 'string' ? [header.secret] : header.secret,
    rules: header.lint === 'clean' ? [] : typeof header.lint === 'string' ? [header.lint] : header.lint,
    legit: header.legit !== undefined,
  };
}

/** The leading comment block of a file, without its `# `. */
function headerOf(text: string): string {
  const lines: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('#')) break;
    lines.push(line.replace(/^# ?/, ''));
  }
  return lines.join('\n');
}

/** A value with every `{secret}` placeholder replaced by the secret (`{card[4]}`: its fifth character). */
export function withSecrets<T>(value: T): T {
  if (typeof value === 'string') {
    return value.replace(/\{(card|cvv|pin|expiry|phone)(?:\[(\d+)\])?\}/g, (_m, s: SecretName, i?: string) => (i === undefined ? SECRETS[s] : SECRETS[s].charAt(Number(i)))) as T;
  }
  if (Array.isArray(value)) return value.map((v) => withSecrets(v)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withSecrets(v)])) as T;
  }
  return value;
}
