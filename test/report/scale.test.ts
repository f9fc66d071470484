import { describe, expect, it } from 'vitest';
import { formatAxis, formatDuration, formatNumber, formatPercent, linearScale, logScale, niceTicks } from '../../src/report/scale.js';

describe('scales', () => {
  it('niceTicks covers the data with round steps', () => {
    expect(niceTicks(0, 97, 4)).toEqual([0, 25, 50, 75, 100]);
    expect(niceTicks(0, 3412, 4)).toEqual([0, 1000, 2000, 3000, 4000]);
    expect(niceTicks(0, 0.37, 4)).toEqual([0, 0.1, 0.2, 0.3, 0.4]);
    expect(niceTicks(0, 0)).toEqual([0, 1]);
    const t = niceTicks(3, 3);
    expect(t[0]).toBeLessThan(3);
    expect(t[t.length - 1]).toBeGreaterThan(3);
  });

  it('linear scale maps the domain onto the range, flipped for SVG y', () => {
    const y = linearScale([0, 97], [150, 10], { nice: true });
    expect(y.domain).toEqual([0, 100]);
    expect(y(0)).toBe(150);
    expect(y(100)).toBe(10);
    expect(y(50)).toBe(80);
  });

  it('log scale puts decades evenly and clamps values below the floor', () => {
    const y = logScale([0.3, 480], [100, 0]);
    expect(y.ticks).toEqual([0.1, 1, 10, 100, 1000]);
    expect(y(0.1)).toBe(100);
    expect(y(1000)).toBe(0);
    expect(y(10)).toBeCloseTo(50);
    expect(y(0)).toBe(100);
  });

  it('formats numbers for axes and tables', () => {
    expect(formatAxis(4000)).toBe('4,000');
    expect(formatAxis(12_345)).toBe('12.3k');
    expect(formatAxis(2_500_000)).toBe('2.5M');
    expect(formatAxis(0.25)).toBe('0.25');
    expect(formatNumber(12345)).toBe('12,345');
    expect(formatNumber(0.12345)).toBe('0.123');
    expect(formatNumber(null)).toBe('–');
    expect(formatPercent(0.9345)).toBe('93.5%');
    expect(formatPercent(1)).toBe('100%');
    expect(formatDuration(950)).toBe('950 ms');
    expect(formatDuration(83_450)).toBe('1m 23s');
    expect(formatDuration(12_000)).toBe('12 s');
  });
});
