/**
 * Which files `callflow lint` reads: the targets named on the command line (files,
 * directories, globs), the project config that governs each, and the other flows of each
 * project (read so references resolve, never reported on). File system only; no linting.
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { globSync, isDynamicPattern } from 'tinyglobby';

/** The names a project config may have, in the order they are looked for. */
export const CONFIG_FILE_NAMES = ['callflow.config.yaml', 'callflow.config.yml'] as const;

/** A flow file: YAML, and neither a project config nor a flow test (`*.test.yaml`). */
export function isFlowFileName(name: string): boolean {
  return /\.ya?ml$/i.test(name) && !/^callflow\.config\.ya?ml$/i.test(name) && !/\.test\.ya?ml$/i.test(name);
}

/** Targets found for the command line's arguments, and the arguments that found nothing. */
export interface TargetFiles {
  /** Absolute paths, sorted, each once. */
  files: string[];
  /** One sentence per argument that matched nothing (a usage problem). */
  problems: string[];
}

/**
 * Expand command-line arguments into flow files. A file is taken as named (whatever its
 * extension); a directory gives its flow files, recursively, skipping node_modules and
 * dot-directories; anything else is a glob (only flow files kept).
 */
export function findTargetFiles(args: readonly string[], cwd: string): TargetFiles {
  const found = new Set<string>();
  const problems: string[] = [];
  for (const arg of args.length > 0 ? args : ['.']) {
    const path = resolve(cwd, arg);
    const kind = kindOf(path);
    if (kind === 'file') {
      found.add(path);
    } else if (kind === 'directory') {
      const files = flowFilesUnder(path);
      if (files.length === 0) problems.push(`no flow files (*.yaml, *.yml) in ${arg}`);
      for (const f of files) found.add(f);
    } else if (isDynamicPattern(arg)) {
      const files = globSync(arg, { cwd, absolute: true, onlyFiles: true, ignore: ['**/node_modules/**'] })
        .filter((f) => isFlowFileName(basename(f)))
        .map((f) => resolve(f));
      if (files.length === 0) problems.push(`no flow files match ${arg}`);
      for (const f of files) found.add(f);
    } else {
      problems.push(`no such file or directory: ${arg}`);
    }
  }
  return { files: [...found].sort(), problems };
}

/** Flow files under a directory, recursively. */
export function flowFilesUnder(root: string): string[] {
  return filesUnder(root, isFlowFileName);
}

/**
 * Files under a directory whose names pass `accept`, recursively, skipping node_modules and
 * dot-directories (iterative: deep trees must not blow the stack).
 */
export function filesUnder(root: string, accept: (name: string) => boolean): string[] {
  const out: string[] = [];
  const pending = [root];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules' && !entry.name.startsWith('.')) pending.push(path);
      } else if ((entry.isFile() || entry.isSymbolicLink()) && accept(entry.name)) {
        if (entry.isFile() || kindOf(path) === 'file') out.push(path);
      }
    }
  }
  return out.sort();
}

/** Flow files directly in a directory (not below it). */
export function flowFilesIn(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => isFlowFileName(e.name) && (e.isFile() || (e.isSymbolicLink() && kindOf(join(dir, e.name)) === 'file')))
      .map((e) => join(dir, e.name))
      .sort();
  } catch {
    return [];
  }
}

/** The nearest project config at or above `dir`, if any. */
export function findConfigFile(dir: string, cache: Map<string, string | null> = new Map()): string | undefined {
  const visited: string[] = [];
  let current = resolve(dir);
  let found: string | null = null;
  for (;;) {
    const cached = cache.get(current);
    if (cached !== undefined) {
      found = cached;
      break;
    }
    visited.push(current);
    const here = CONFIG_FILE_NAMES.map((n) => join(current, n)).find((p) => kindOf(p) === 'file');
    if (here) {
      found = here;
      break;
    }
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const v of visited) cache.set(v, found);
  return found ?? undefined;
}

/** One lint run: targets sharing a config, and the project's other flows. */
export interface ProjectFiles {
  /** The config that governs the targets (absent: no config, defaults apply). */
  configFile?: string;
  /** Files reported on (absolute, sorted). */
  targets: string[];
  /** The project's other flows, read for references only (absolute, sorted). */
  others: string[];
}

/**
 * Group target files into projects. With `configFile` every target belongs to it; otherwise
 * each target takes the nearest `callflow.config.yaml` upward from its directory. A
 * project's other flows are every flow file under its config's directory, or, without a
 * config, the flows beside the target.
 */
export function groupIntoProjects(targets: readonly string[], options: { configFile?: string } = {}): ProjectFiles[] {
  const cache = new Map<string, string | null>();
  const groups = new Map<string, { configFile?: string; targets: string[]; roots: Set<string> }>();
  for (const target of targets) {
    const configFile = options.configFile ? resolve(options.configFile) : findConfigFile(dirname(target), cache);
    // Without a config, each directory is its own project.
    const key = configFile ? `config:${configFile}` : `dir:${dirname(target)}`;
    let group = groups.get(key);
    if (!group) {
      group = { ...(configFile ? { configFile } : {}), targets: [], roots: new Set() };
      groups.set(key, group);
    }
    group.targets.push(target);
    group.roots.add(dirname(target));
  }
  const projects: ProjectFiles[] = [];
  for (const group of groups.values()) {
    const isTarget = new Set(group.targets);
    const candidates = group.configFile ? flowFilesUnder(dirname(group.configFile)) : [...group.roots].flatMap(flowFilesIn);
    const others = [...new Set(candidates)].filter((f) => !isTarget.has(f)).sort();
    projects.push({ ...(group.configFile ? { configFile: group.configFile } : {}), targets: [...group.targets].sort(), others });
  }
  return projects;
}

function kindOf(path: string): 'file' | 'directory' | 'other' | 'missing' {
  try {
    const s = statSync(path);
    return s.isFile() ? 'file' : s.isDirectory() ? 'directory' : 'other';
  } catch {
    return 'missing';
  }
}
