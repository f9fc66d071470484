import { describe, expect, it } from 'vitest';
import { fromChaosRunResult } from '../../src/report/adapt.js';
import { writeJUnit } from '../../src/report/junit.js';
import { junitShapeErrors, parseXml } from './xml-shape.js';
import { syntheticChaos } from './synthetic.js';

describe('writeJUnit', () => {
  it('one testcase per expectation, failure message with rule and value, seed and replay as properties', () => {
    const input = fromChaosRunResult(syntheticChaos(['none'], { stale: 3, failRule: true }));
    const xml = writeJUnit(input);
    expect(junitShapeErrors(xml)).toEqual([]);
    const root = parseXml(xml);
    expect(root.attrs).toMatchObject({ tests: '2', failures: '1' });
    const suite = root.children[0];
    const cases = suite.children.filter((c) => c.name === 'testcase');
    expect(cases.map((c) => c.attrs.name)).toEqual(['staleReads == 0', 'hitRate >= 0.5']);
    const failure = cases[0].children.find((c) => c.name === 'failure')!;
    expect(failure.attrs.message).toBe('staleReads == 0: staleReads is 12, expected == 0');
    expect(failure.text).toContain('replay: cachectl chaos master-down --fault partition --seed 42');
    expect(cases[1].children.some((c) => c.name === 'failure')).toBe(false);
    const props = Object.fromEntries(suite.children.find((c) => c.name === 'properties')!.children.map((p) => [p.attrs.name, p.attrs.value]));
    expect(props).toMatchObject({ seed: '42', replay: 'cachectl chaos master-down --fault partition --seed 42', 'measured.staleReads': '12' });
  });

  it('with --mitigation all: one testsuite per mitigation, cases grouped by class name', () => {
    const result = syntheticChaos(['none', 'proxy-delete'], { stale: 2 });
    result.expectations = result.runs.map((r) => ({ rule: 'staleReads == 0', run: r.label, metric: 'staleReads', operator: '==', expected: 0, actual: r.metrics.staleReads, passed: r.metrics.staleReads === 0, message: `staleReads is ${r.metrics.staleReads}` }));
    const xml = writeJUnit(fromChaosRunResult(result));
    expect(junitShapeErrors(xml)).toEqual([]);
    const suites = parseXml(xml).children;
    expect(suites.map((s) => s.attrs.name)).toEqual(['chaos master-down [none]', 'chaos master-down [proxy-delete]']);
    expect(suites.map((s) => s.attrs.failures)).toEqual(['1', '0']);
    expect(suites[1].children.find((c) => c.name === 'testcase')!.attrs.classname).toBe('cachectl.chaos.master-down.proxy-delete');
  });

  it('without rules: one verdict testcase per run, so CI still shows the run', () => {
    const xml = writeJUnit(fromChaosRunResult(syntheticChaos(['none'], { stale: 0 })));
    expect(junitShapeErrors(xml)).toEqual([]);
    const cases = parseXml(xml).children[0].children.filter((c) => c.name === 'testcase');
    expect(cases).toHaveLength(1);
    expect(cases[0].attrs.name).toBe('verdict (none)');
  });

  it('escapes rules and keys, and drops control characters XML forbids', () => {
    const result = syntheticChaos(['none'], { stale: 1, failRule: true });
    result.replay = `cachectl chaos master-down --name "<a&b>"\u0001`;
    const xml = writeJUnit(fromChaosRunResult(result));
    expect(junitShapeErrors(xml)).toEqual([]);
    expect(xml).not.toContain('\u0001');
    expect(xml).toContain('&lt;a&amp;b&gt;');
  });
});

describe('the JUnit shape check itself', () => {
  it('rejects malformed or mis-shaped documents', () => {
    expect(junitShapeErrors('<testsuites><testsuite></testsuites>')[0]).toMatch(/not well-formed/);
    expect(junitShapeErrors('<testsuites><testsuite name="a" tests="1" failures="0" errors="0" time="1"><testcase name="x" time="0"/></testsuite></testsuites>')).toEqual(['<testcase name="x"> lacks classname']);
    expect(junitShapeErrors('<testsuites><testsuite name="a" tests="2" failures="0" errors="0" time="1"><testcase name="x" classname="c" time="0"/></testsuite></testsuites>')[0]).toMatch(/tests=2 but has 1/);
    expect(junitShapeErrors('<testsuites><testsuite name="a" tests="1" failures="1" errors="0" time="1"><testcase name="x" classname="c" time="0"><failure/></testcase></testsuite></testsuites>')).toEqual(['<failure> lacks message']);
    expect(junitShapeErrors('<testsuites><testsuite name="a & b" tests="0" failures="0" errors="0" time="1"/></testsuites>')[0]).toMatch(/bare "&"/);
  });
});

describe('Markdown summary for CI job pages', () => {
  it('verdict, one column per mitigation, rules, and the replay command; table-safe', async () => {
    const { renderMarkdownSummary } = await import('../../src/report/markdown.js');
    const result = syntheticChaos(['none', 'proxy-delete'], { stale: 2, failRule: true });
    result.title = 'a | b';
    const md = renderMarkdownSummary(fromChaosRunResult(result));
    expect(md).toMatch(/^### ❌ a \\\| b — FAIL/);
    expect(md).toContain('| | none | proxy-delete |');
    expect(md).toContain('| stale reads | 8 | 0 |');
    expect(md).toContain('| ❌ | `staleReads == 0` | none | 8 |');
    expect(md).toContain('```sh\ncachectl chaos master-down --fault partition --seed 42\n```');
  });
});
