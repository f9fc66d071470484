import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ChaosRunResult } from '../../src/chaos/types.js';
import { fromChaosRunResult } from '../../src/report/adapt.js';
import { writeJUnitFile } from '../../src/report/artifacts.js';
import { escapeXml, writeJUnit } from '../../src/report/junit.js';

/** `cachectl chaos ... --junit` writes this: the chaos result through the one JUnit writer (src/report). */
const renderChaosJunit = (r: ChaosRunResult): string => writeJUnit(fromChaosRunResult(r));

function result(over: Partial<ChaosRunResult> = {}): ChaosRunResult {
  return {
    kind: 'chaos-run', version: 1, scenario: 'master-down', title: 't', seed: 7,
    replay: 'cachectl chaos master-down --seed 7 --expect "staleReads == 0"',
    config: { fault: 'partition', mitigations: ['none'], warmupMs: 1, faultMs: 1, healMs: 1, settleMs: 1, clients: 1, keys: 1, readRatio: 0.8, readPolicy: 'balanced', shortTtlSeconds: 2, proxyTimeoutMs: 100, opsPerSecond: 0, proxies: 1, cluster: { name: 'x', runtime: 'local', ephemeral: true } },
    runs: [{ label: 'none', mitigation: 'none', offsetMs: 0, durationMs: 1500, timeline: { startedAt: '', phases: [], events: [] }, metrics: {} as never, check: null as never, perSecond: [], findings: [], verdict: 'incident-reproduced' }],
    expectations: [
      { rule: 'staleReads == 0', run: 'none', metric: 'staleReads', operator: '==', expected: 0, actual: 12, passed: false, message: 'none: expected staleReads == 0, measured 12' },
      { rule: 'lostUpdates == 0', run: 'none', metric: 'lostUpdates', operator: '==', expected: 0, actual: 0, passed: true, message: 'ok' },
    ],
    verdict: 'fail', summary: ['a <b> & "c"'], startedAt: '2026-01-01T00:00:00.000Z', durationMs: 2000, interrupted: false,
    ...over,
  };
}

describe('chaos --junit', () => {
  it('writes one testcase per evaluated expectation, failures with rule and measured value', () => {
    const xml = renderChaosJunit(result());
    expect(xml.match(/<testcase /g)).toHaveLength(2);
    expect(xml).toContain('tests="2" failures="1"');
    expect(xml).toContain('<failure message="none: expected staleReads == 0, measured 12"');
    expect(xml).toContain('measured: 12');
    expect(xml).toContain('<testcase name="lostUpdates == 0" classname="cachectl.chaos.master-down" time="0.000">');
    expect(xml).toContain('time="1.500"');
    expect(xml).toContain('&quot;staleReads == 0&quot;');
    expect(xml).toContain('a &lt;b&gt; &amp; &quot;c&quot;');
  });
  it('records the scenario per run when there are no rules', () => {
    const xml = renderChaosJunit(result({ expectations: [], verdict: 'pass' }));
    expect(xml).toContain('tests="1" failures="0"');
    expect(xml).toContain('<testcase name="verdict (none)"');
  });
  it('escapes XML and drops control characters', () => {
    expect(escapeXml('<a&b>"\'\u0001')).toBe('&lt;a&amp;b&gt;&quot;&apos;');
  });
  it('writes the file, creating directories', () => {
    const dir = mkdtempSync(join(tmpdir(), 'junit-'));
    const file = join(dir, 'sub', 'chaos.xml');
    writeJUnitFile(fromChaosRunResult(result()), file);
    expect(readFileSync(file, 'utf8')).toMatch(/^<\?xml version="1.0"/);
  });
  it('reports an unwritable path as a usage error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'junit-'));
    const notADir = join(dir, 'file');
    writeFileSync(notADir, 'x');
    expect(() => writeJUnitFile(fromChaosRunResult(result()), join(notADir, 'chaos.xml'))).toThrow(/cannot write the JUnit file/);
  });
});
