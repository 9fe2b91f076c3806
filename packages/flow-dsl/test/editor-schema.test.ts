/**
 * The shipped JSON Schema in a real editor engine: the YAML language server (what VS Code's
 * YAML extension runs) checks a flow file and completes it from schema/flow.schema.json.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { describe, expect, it } from 'vitest';
import { getLanguageService } from 'yaml-language-server/out/server/src/languageservice/yamlLanguageService.js';

const schema = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'schema', 'flow.schema.json'), 'utf8')) as Record<string, unknown>;

function service() {
  const ls = getLanguageService({
    schemaRequestService: async () => JSON.stringify(schema),
    workspaceContext: { resolveRelativePath: (relative: string) => relative },
    clientCapabilities: {},
  });
  ls.configure({ validate: true, completion: true, hover: true, schemas: [{ uri: 'file:///flow.schema.json', fileMatch: ['*.yaml'], schema }] });
  return ls;
}

let documents = 0;
// The language service caches parsed documents by URI and version: a new URI each time.
const doc = (text: string) => TextDocument.create(`file:///flow-${++documents}.yaml`, 'yaml', 1, text);

describe('the flow schema in the YAML language server', () => {
  it('accepts the contract example', async () => {
    const contract = readFileSync(join(import.meta.dirname, 'fixtures', 'builder', 'take-payment.yaml'), 'utf8');
    expect(await service().doValidation(doc(contract), false)).toEqual([]);
  });

  it('flags a misspelt action where it is written', async () => {
    const diagnostics = await service().doValidation(doc('flow: x\nkind: inbound\nstart: a\nstates:\n  a:\n    disconect: {}\n'), false);
    expect(diagnostics.some((d) => d.range.start.line === 5 && /disconect/.test(d.message))).toBe(true);
  });

  it('completes the kinds of flow and the actions of a state', async () => {
    const ls = service();
    const kinds = await ls.doComplete(doc('flow: x\nkind: \nstart: a\nstates:\n  a:\n    \n'), { line: 1, character: 6 }, false);
    expect(kinds.items.map((i) => i.label)).toEqual(expect.arrayContaining(['inbound', 'secure', 'subflow']));
    const actions = await ls.doComplete(doc('flow: x\nkind: inbound\nstart: a\nstates:\n  a:\n    \n'), { line: 5, character: 4 }, false);
    expect(actions.items.map((i) => i.label)).toEqual(expect.arrayContaining(['say', 'collect', 'menu', 'invoke', 'transfer', 'returnToAgent']));
  });
});
