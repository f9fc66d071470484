import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fromChaosRunResult, isChaosRunResult, toReportInput } from '../../src/report/adapt.js';
import { writeJUnit } from '../../src/report/junit.js';
import { junitShapeErrors, parseXml } from './xml-shape.js';

/**
 * The real recorded runs in test/report/fixtures (written by the real CLI: `cachectl chaos
 * master-down ... --json`, `cachectl workload ... --json`) go through the adapters and the one JUnit
 * writer (src/report, also behind `cachectl chaos ... --junit`) into the common JUnit XML shape.
 */
const FIXTURES = join(import.meta.dirname, 'fixtures');
const fixtures = readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).sort();
const load = (f: string): unknown => JSON.parse(readFileSync(join(FIXTURES, f), 'utf8'));

describe('real recorded runs', () => {
  it('include a chaos --mitigation all run with rules, a switch run and a workload run', () => {
    expect(fixtures).toEqual(expect.arrayContaining(['master-down-all-seed7.json', 'master-down-switch-seed11.json', 'workload-seed4242.json']));
  });

  for (const f of fixtures) {
    it(`${f}: adapts, and its JUnit (one testcase per rule) has the common JUnit XML shape`, () => {
      const raw = load(f);
      const input = toReportInput(raw, f);
      expect(input.series.length).toBeGreaterThan(0);
      for (const s of input.series) {
        expect(s.perSecond.length).toBeGreaterThan(3);
        expect(s.perSecond.every((p) => Object.values(p.ops).every((n) => Number.isFinite(n)))).toBe(true);
      }
      const xml = writeJUnit(input);
      expect(junitShapeErrors(xml)).toEqual([]);
      const cases = parseXml(xml).children.flatMap((s) => s.children.filter((c) => c.name === 'testcase'));
      if (input.expectations.length) {
        expect(cases.map((c) => c.attrs.name).sort()).toEqual(input.expectations.map((e) => e.rule).sort());
        const failing = cases.filter((c) => c.children.some((x) => x.name === 'failure'));
        expect(failing).toHaveLength(input.expectations.filter((e) => !e.pass).length);
        for (const c of failing) expect(c.children.find((x) => x.name === 'failure')!.attrs.message).toMatch(/measured|expected|is \d/);
      } else {
        expect(cases).toHaveLength(input.series.length);
      }
      // What `cachectl chaos ... --junit` writes for the same run.
      if (isChaosRunResult(raw)) expect(junitShapeErrors(writeJUnit(fromChaosRunResult(raw)))).toEqual([]);
    });
  }

  it('the switch run shades the manual switch window and the fault window', () => {
    const input = toReportInput(load('master-down-switch-seed11.json'));
    const kinds = input.series[0].windows.map((w) => w.kind).sort();
    expect(kinds).toEqual(['fault', 'switch']);
    const sw = input.series[0].windows.find((w) => w.kind === 'switch')!;
    const fault = input.series[0].windows.find((w) => w.kind === 'fault')!;
    expect(sw.startSec).toBeGreaterThan(fault.startSec);
    expect(sw.endSec).toBeLessThan(fault.endSec);
  });
});
