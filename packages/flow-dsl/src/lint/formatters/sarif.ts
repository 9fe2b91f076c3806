/**
 * The `sarif` formatter: SARIF 2.1.0 as GitHub code scanning reads it (upload-sarif). Every
 * rule is listed in `tool.driver.rules` with its docs; every problem is a result located by
 * a uri relative to the checkout (`%SRCROOT%`) and a 1-based region.
 */
import { pathToFileURL } from 'node:url';
import type { Rule } from '../types.js';
import { displayPath } from './paths.js';
import { escapeJsonText } from './terminal-text.js';
import type { Formatter } from './types.js';

/** Where callflow's docs live: rule pages are `<home>/docs/rules/<rule>`. */
export const CALLFLOW_HOME = 'https://callflow.dev';

/** The SARIF 2.1.0 schema GitHub and the SARIF validators recognise. */
export const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';

interface RuleDescriptor {
  id: string;
  name: string;
  shortDescription: { text: string };
  fullDescription: { text: string };
  help: { text: string; markdown: string };
  helpUri: string;
  defaultConfiguration: { level: 'error' | 'warning' };
}

/** The results as one SARIF log. */
export const sarif: Formatter = (results, context) => {
  const descriptors = context.rules.map(describeRule);
  const index = new Map(descriptors.map((d, i) => [d.id, i]));
  const artifacts: { location: { uri: string; uriBaseId: string } }[] = [];
  const sarifResults: unknown[] = [];
  for (const r of results) {
    const uri = encodeUri(displayPath(r.filePath, context.cwd));
    const artifactIndex = artifacts.push({ location: { uri, uriBaseId: '%SRCROOT%' } }) - 1;
    for (const m of r.messages) {
      let ruleIndex = index.get(m.ruleId);
      if (ruleIndex === undefined) {
        // Not a registered rule (internal-error): describe it so ruleIndex stays valid.
        ruleIndex = descriptors.push(describeUnknown(m.ruleId)) - 1;
        index.set(m.ruleId, ruleIndex);
      }
      sarifResults.push({
        ruleId: m.ruleId,
        ruleIndex,
        level: m.severity === 2 ? 'error' : 'warning',
        message: { text: m.message },
        locations: [
          {
            physicalLocation: {
              artifactLocation: { uri, uriBaseId: '%SRCROOT%', index: artifactIndex },
              region: { startLine: m.line, startColumn: m.column, endLine: m.endLine, endColumn: m.endColumn },
            },
          },
        ],
      });
    }
  }
  const log = {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'callflow',
            informationUri: CALLFLOW_HOME,
            version: context.version,
            semanticVersion: context.version,
            rules: descriptors,
          },
        },
        originalUriBaseIds: { '%SRCROOT%': { uri: directoryUri(context.cwd) } },
        artifacts,
        results: sarifResults,
      },
    ],
  };
  return escapeJsonText(JSON.stringify(log, null, 2));
};

function describeRule(rule: Rule): RuleDescriptor {
  const { meta } = rule;
  const helpUri = docsUri(meta.docs);
  const help = meta.help ?? meta.description;
  return {
    id: meta.name,
    name: meta.name,
    shortDescription: { text: meta.description },
    fullDescription: { text: meta.help ? `${meta.description} ${meta.help}` : meta.description },
    help: { text: `${help} See ${helpUri}`, markdown: `${help}\n\n[${meta.name} docs](${helpUri})` },
    helpUri,
    defaultConfiguration: { level: meta.defaultSeverity === 'warn' ? 'warning' : 'error' },
  };
}

function describeUnknown(id: string): RuleDescriptor {
  const text = id === 'internal-error' ? 'A rule failed on this file: a bug in callflow.' : `Reported by ${id}.`;
  return {
    id,
    name: id,
    shortDescription: { text },
    fullDescription: { text },
    help: { text, markdown: text },
    helpUri: CALLFLOW_HOME,
    defaultConfiguration: { level: 'error' },
  };
}

/** `docs/rules/unknown-state.md` → `https://callflow.dev/docs/rules/unknown-state`. */
function docsUri(docs: string): string {
  return `${CALLFLOW_HOME}/${docs.replace(/^\/+/, '').replace(/\.md$/, '')}`;
}

/** A relative path as a uri reference (spaces and the like percent-encoded, `/` kept). */
function encodeUri(path: string): string {
  if (/^([A-Za-z]:)?\//.test(path)) return pathToFileURL(path).href;
  return path.split('/').map(encodeURIComponent).join('/');
}

/** The working directory as a `file:` uri ending in `/`, as SARIF requires of a base. */
function directoryUri(cwd: string): string {
  const href = pathToFileURL(cwd).href;
  return href.endsWith('/') ? href : `${href}/`;
}
