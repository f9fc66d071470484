import { describe, expect, it } from 'vitest';
import { escapeHtml, jsonForScript, linePath, stepAreaPath, stepPath } from '../../src/report/svg.js';

describe('SVG paths', () => {
  it('linePath draws M then L, and breaks across missing values', () => {
    expect(linePath([{ x: 0, y: 10 }, { x: 1, y: 20 }, { x: 2, y: null }, { x: 3, y: 5 }, { x: 4, y: 6 }])).toBe('M0 10L1 20M3 5L4 6');
    expect(linePath([])).toBe('');
    expect(linePath([{ x: 0, y: null }])).toBe('');
  });

  it('stepPath holds each per-second value for the whole second', () => {
    expect(stepPath([{ x: 0, y: 10 }, { x: 5, y: 20 }], 5)).toBe('M0 10L5 10L5 20L10 20');
  });

  it('stepAreaPath closes one polygon per unbroken run down to the baseline', () => {
    const d = stepAreaPath([{ x: 0, y: 10 }, { x: 5, y: null }, { x: 10, y: 20 }], 5, 100);
    expect(d).toBe('M0 100L0 10L5 10L5 100ZM10 100L10 20L15 20L15 100Z');
  });

  it('rounds coordinates to 2 decimals to keep the file small', () => {
    expect(linePath([{ x: 1 / 3, y: 2 / 3 }])).toBe('M0.33 0.67');
  });
});

describe('escaping', () => {
  it('escapeHtml escapes every markup character', () => {
    expect(escapeHtml(`<script>alert("x") & 'y'</script>`)).toBe('&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;');
  });

  it('jsonForScript cannot close the script element and still parses back', () => {
    const value = { key: '</script><script>alert(1)</script><!--', sep: '\u2028' };
    const text = jsonForScript(value);
    expect(text).not.toMatch(/<|>/);
    expect(JSON.parse(text)).toEqual(value);
  });
});

describe('per-second series', () => {
  it('a last second the run only touched for a moment is left out (no false drop to zero)', async () => {
    const { trimPartialTail } = await import('../../src/report/adapt.js');
    const sec = (second: number) => ({ second, ops: { read: 1 }, errors: 0, unknowns: 0, staleReads: 0, hitRate: 1, dbReads: 0, p50Ms: null, p99Ms: null });
    expect(trimPartialTail([sec(0), sec(7), sec(8)], 8.004).map((p) => p.second)).toEqual([0, 7]);
    expect(trimPartialTail([sec(0), sec(7), sec(8)], 8.6).map((p) => p.second)).toEqual([0, 7, 8]);
  });
});
