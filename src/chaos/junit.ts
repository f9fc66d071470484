import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { CachectlError } from '../errors.js';
import type { ChaosRunResult } from './types.js';

/**
 * JUnit XML for CI systems: one testsuite per scenario, one testcase per evaluated expectation
 * (a rule evaluated on three mitigation runs is three testcases). With no rules, one testcase per
 * run records that the scenario completed, so the file is never empty.
 */

export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    // XML 1.0 forbids most control characters even when escaped.
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');
}

export function renderJunit(result: ChaosRunResult): string {
  const suiteName = `cachectl chaos ${result.scenario}${result.config.fault ? ` (${result.config.fault})` : ''}`;
  const seconds = (ms: number): string => (ms / 1000).toFixed(3);
  const cases: string[] = [];
  let failures = 0;
  if (result.expectations.length > 0) {
    for (const exp of result.expectations) {
      const name = `${exp.run}: ${exp.rule.replace(/^[a-z0-9-]+\./, '')}`;
      const run = result.runs.find((r) => r.label === exp.run);
      const time = run ? seconds(run.durationMs) : '0';
      if (exp.passed) {
        cases.push(`    <testcase classname="${escapeXml(suiteName)}" name="${escapeXml(name)}" time="${time}"/>`);
      } else {
        failures++;
        cases.push(
          `    <testcase classname="${escapeXml(suiteName)}" name="${escapeXml(name)}" time="${time}">\n` +
            `      <failure message="${escapeXml(exp.message)}" type="ExpectationFailed">${escapeXml(
              `rule: ${exp.rule}\nrun: ${exp.run}\nmeasured ${exp.metric}: ${exp.actual ?? 'n/a'}\nreplay: ${result.replay}`,
            )}</failure>\n` +
            `    </testcase>`,
        );
      }
    }
  } else {
    for (const run of result.runs) {
      cases.push(
        `    <testcase classname="${escapeXml(suiteName)}" name="${escapeXml(`${run.label}: scenario completed (${run.verdict})`)}" time="${seconds(run.durationMs)}"/>`,
      );
    }
  }
  const props = [
    ['seed', String(result.seed)],
    ['replay', result.replay],
    ['verdict', result.verdict],
  ]
    .map(([k, v]) => `      <property name="${k}" value="${escapeXml(v)}"/>`)
    .join('\n');
  const summary = escapeXml(result.summary.join('\n'));
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<testsuites name="cachectl chaos" tests="${cases.length}" failures="${failures}" time="${seconds(result.durationMs)}">\n` +
    `  <testsuite name="${escapeXml(suiteName)}" tests="${cases.length}" failures="${failures}" errors="0" skipped="0" time="${seconds(result.durationMs)}" timestamp="${escapeXml(result.startedAt)}">\n` +
    `    <properties>\n${props}\n    </properties>\n` +
    `${cases.join('\n')}\n` +
    `    <system-out>${summary}</system-out>\n` +
    `  </testsuite>\n` +
    `</testsuites>\n`
  );
}

export function writeJunit(file: string, result: ChaosRunResult): void {
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, renderJunit(result));
  } catch (err) {
    throw new CachectlError('USAGE', `cannot write the JUnit file ${file}: ${(err as Error).message}`, {
      hint: 'pass a writable path to --junit',
      details: { file },
    });
  }
}
