/**
 * The `junit` formatter: JUnit XML for CI test reports (GitLab, Jenkins, Azure). One
 * `<testsuite name="callflow lint">`, one `<testcase>` per file (classname = its path); a
 * file with errors fails with every error listed, warnings go to `<system-out>`.
 */
import type { Diagnostic } from '../types.js';
import { displayPath } from './paths.js';
import { escapeXmlControls } from './terminal-text.js';
import type { Formatter } from './types.js';

/** The results as one JUnit test suite. */
export const junit: Formatter = (results, context) => {
  const failures = results.filter((r) => r.errorCount > 0).length;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="callflow" tests="${results.length}" failures="${failures}" errors="0">`,
    `  <testsuite name="callflow lint" tests="${results.length}" failures="${failures}" errors="0" skipped="0">`,
  ];
  for (const r of results) {
    const path = escapeXml(displayPath(r.filePath, context.cwd));
    const errors = r.messages.filter((m) => m.severity === 2);
    const warnings = r.messages.filter((m) => m.severity !== 2);
    if (errors.length === 0 && warnings.length === 0) {
      lines.push(`    <testcase classname="${path}" name="${path}" time="0"/>`);
      continue;
    }
    lines.push(`    <testcase classname="${path}" name="${path}" time="0">`);
    if (errors.length > 0) {
      const summary = `${errors.length} ${errors.length === 1 ? 'error' : 'errors'}`;
      lines.push(`      <failure message="${summary}" type="callflow lint">${escapeXml(errors.map(describe).join('\n'))}</failure>`);
    }
    if (warnings.length > 0) {
      lines.push(`      <system-out>${escapeXml(warnings.map(describe).join('\n'))}</system-out>`);
    }
    lines.push('    </testcase>');
  }
  lines.push('  </testsuite>', '</testsuites>');
  return `${lines.join('\n')}\n`;
};

function describe(m: Diagnostic): string {
  return `${m.line}:${m.column} ${m.ruleId} ${m.message}`;
}

/**
 * Escape text for XML content and attributes: characters XML 1.0 cannot hold become U+FFFD;
 * CR, DEL, C1 and the bidi controls, which it can, become character references (the same
 * text to an XML reader, nothing raw for a terminal that prints the file).
 */
export function escapeXml(text: string): string {
  return escapeXmlControls(
    text
      .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '\uFFFD')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;'),
  );
}
