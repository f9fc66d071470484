import { describe, expect, it } from 'vitest';
import { fromChaosRunResult } from '../../src/report/adapt.js';
import { renderHtmlReport } from '../../src/report/html.js';
import { syntheticChaos } from './synthetic.js';

const EVIL = '</script><script>window.__pwned=1</script><img src=x onerror=alert(1)>';

describe('renderHtmlReport', () => {
  it('is one self-contained file: no external URL, stylesheet or script src', () => {
    const html = renderHtmlReport(fromChaosRunResult(syntheticChaos(['none'])));
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/<script[^>]*\bsrc=/i);
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/url\(/i);
  });

  it('draws one path per series line per chart, and shades the fault window with its label', () => {
    const html = renderHtmlReport(fromChaosRunResult(syntheticChaos(['none', 'proxy-delete', 'client-short-ttl'])));
    const charts = [...html.matchAll(/<svg class="chart-svg"[^>]*data-chart="([^"]+)"[\s\S]*?<\/svg>/g)];
    expect(charts.map((m) => m[1])).toEqual(['throughput', 'errors', 'stale', 'hit-rate', 'db-reads', 'latency-read', 'latency-update']);
    const lines = (id: string): number => (charts.find((m) => m[1] === id)![0].match(/class="series-line"/g) ?? []).length;
    expect(lines('throughput')).toBe(3 * 2); // 3 mitigations x (read, update)
    expect(lines('stale')).toBe(3);
    expect(lines('latency-read')).toBe(3 * 2); // p50 and p99
    expect(lines('latency-update')).toBe(3 * 2);
    for (const [, id] of charts) expect(charts.find((m) => m[1] === id)![0]).toContain('class="window window-fault"');
    expect(html).toContain('fault: master link disabled');
    // Matrix with one column per mitigation.
    expect(html).toMatch(/Mitigation matrix/);
    expect((html.match(/<table class="matrix">[\s\S]*?<\/thead>/)![0].match(/<th class="num">/g) ?? []).length).toBe(3);
  });

  it('shows the verdict, the seed, the replay command and the failing expectation with its value', () => {
    const html = renderHtmlReport(fromChaosRunResult(syntheticChaos(['none'], { stale: 3, failRule: true })));
    expect(html).toContain('badge badge-fail');
    expect(html).toContain('<dd>42</dd>');
    expect(html).toContain('cachectl chaos master-down --fault partition --seed 42');
    expect(html).toMatch(/<tr class="failed">[\s\S]*?staleReads == 0[\s\S]*?<td class="num">12<\/td>/);
    expect(html).toContain('1/2 met');
  });

  it('lists anomalies with the operations that prove them', () => {
    const html = renderHtmlReport(fromChaosRunResult(syntheticChaos(['none'], { stale: 2 })));
    expect(html).toMatch(/<h4><span class="kind">stale-read<\/span>/);
    const anomaly = html.match(/<details class="anomaly"[\s\S]*?<\/details>/)![0];
    // The real checker's proof: the read, and the committed update it missed.
    expect(anomaly).toMatch(/read returned v1 from the slave at 4\.60s, but v\d+ was committed at 4\.\d+s/);
    expect((anomaly.match(/<tr class="op-/g) ?? []).length).toBe(2);
    expect(anomaly).toMatch(/<td>read<\/td><td><code>k1<\/code><\/td><td class="num">4\.600s<\/td>/);
    expect(anomaly).toMatch(/<td>slave<\/td>/);
  });

  it('a key with <script> cannot inject markup or script anywhere', () => {
    const result = syntheticChaos(['none'], { stale: 1, key: EVIL });
    result.title = EVIL;
    result.replay = `cachectl chaos master-down --name '${EVIL}'`;
    result.runs[0].label = EVIL;
    const html = renderHtmlReport(fromChaosRunResult(result));
    expect(html).not.toContain('<script>window.__pwned');
    expect(html).not.toContain('<img src=x');
    // Exactly the two script elements the report owns.
    expect((html.match(/<script\b/g) ?? []).length).toBe(2);
    expect((html.match(/<\/script>/g) ?? []).length).toBe(2);
    expect(html).toContain('&lt;/script&gt;&lt;script&gt;window.__pwned=1');
  });

  it('renders a run without per-second data or anomalies without failing', () => {
    const input = fromChaosRunResult(syntheticChaos(['none'], { stale: 0 }));
    input.series[0].perSecond = [];
    const html = renderHtmlReport(input);
    expect(html).toContain('recorded no per-second samples');
    expect(html).toContain('No anomaly found');
  });
});
