/**
 * JUnit XML that CI systems (GitHub/GitLab test reports, Jenkins, Buildkite) display well:
 * one <testsuite> per run (per mitigation with `--mitigation all`), one <testcase> per `--expect`
 * rule, a <failure message="rule: measured value"> when it failed, and <properties> with the seed
 * and the exact replay command so a red build says how to reproduce it.
 * Without any rule, each run gets one testcase for its checker verdict, so CI still shows it.
 * The one JUnit writer: `cachectl report --junit`, `cachectl chaos ... --junit` and saved runs all use it.
 */
import type { ReportExpectation, ReportInput, ReportSeries } from './types.js';

/** XML 1.0 forbids most control characters even escaped; drop them, escape the rest. */
export function escapeXml(value: unknown): string {
  return String(value ?? '')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '')
    .replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

function attrs(a: Record<string, string | number | undefined>): string {
  return Object.entries(a)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${escapeXml(v)}"`)
    .join('');
}

function secs(ms: number | undefined): string {
  return ((ms ?? 0) / 1000).toFixed(3);
}

/** "chaos.master-down.proxy-delete": the class name CI groups test cases under. */
function className(input: ReportInput, series: string | undefined): string {
  const clean = (s: string): string => s.replace(/[^A-Za-z0-9_-]+/g, '-');
  return ['cachectl', clean(input.kind), clean(input.scenario), ...(series ? [clean(series)] : [])].join('.');
}

function valueText(v: ReportExpectation['value']): string {
  return v === null ? 'not measured' : String(v);
}

function failureMessage(e: ReportExpectation): string {
  if (!e.message) return `expected ${e.rule}, measured ${e.metric ?? 'value'} = ${valueText(e.value)}`;
  // The chaos evaluator's message already names the rule ("none: expected staleReads == 0, measured 12"): say it once.
  return e.message.includes(e.rule) ? e.message : `${e.rule}: ${e.message}`;
}

interface Case {
  name: string;
  classname: string;
  timeSec: string;
  failure?: { message: string; type: string; body: string };
  out?: string;
}

interface Suite {
  xml: string;
  tests: number;
  failures: number;
}

function suiteFor(input: ReportInput, series: ReportSeries | undefined, expectations: ReportExpectation[], timestamp: string, withSummary = false): Suite {
  const label = series?.label;
  const cls = className(input, input.series.length > 1 ? label : undefined);
  const durationMs = series?.durationMs ?? input.durationMs;
  const cases: Case[] = expectations.map((e) => ({
    name: e.rule,
    classname: cls,
    // Expectations are checked after the run: the run's time belongs to the suite, not the case.
    timeSec: '0.000',
    failure: e.pass
      ? undefined
      : {
          message: failureMessage(e),
          type: 'ExpectationFailed',
          body: [`rule: ${e.rule}`, `measured: ${valueText(e.value)}`, ...(label ? [`mitigation: ${label}`] : []), `replay: ${input.replayCommand}`].join('\n'),
        },
    out: `${e.rule} -> ${valueText(e.value)} (${e.pass ? 'met' : 'FAILED'})`,
  }));
  if (cases.length === 0) {
    const verdict = series?.verdict ?? input.verdict;
    // With no --expect rule an incident run is informational (reproducing it is the point); a "fail" verdict fails.
    cases.push({
      name: `verdict${label ? ` (${label})` : ''}`,
      classname: cls,
      timeSec: secs(durationMs),
      failure: verdict.status === 'fail' ? { message: verdict.summary || 'the checker found anomalies', type: 'ConsistencyFailed', body: verdict.summary } : undefined,
      out: `${verdict.status}: ${verdict.summary}`,
    });
  }
  const failures = cases.filter((c) => c.failure).length;
  const props: Array<[string, string]> = [
    ['seed', input.seed === null ? '' : String(input.seed)],
    ['replay', input.replayCommand],
    ['scenario', input.scenario],
    ...(label ? ([['mitigation', label]] as Array<[string, string]>) : []),
    ...(input.runId ? ([['runId', input.runId]] as Array<[string, string]>) : []),
    ...Object.entries(series?.totals ?? {})
      .filter(([, v]) => typeof v === 'number')
      .map(([k, v]): [string, string] => [`measured.${k}`, String(v)]),
  ];
  // The run's own summary (findings, rule outcomes) once per document, on the first suite.
  const summary = withSummary ? input.verdict.summary : '';
  const suiteName = `${input.kind} ${input.scenario}${label && input.series.length > 1 ? ` [${label}]` : ''}`;
  const caseXml = cases
    .map((c) => {
      const inner = [
        c.failure ? `      <failure${attrs({ message: c.failure.message, type: c.failure.type })}>${escapeXml(c.failure.body)}</failure>` : '',
        c.out ? `      <system-out>${escapeXml(c.out)}</system-out>` : '',
      ].filter(Boolean);
      return `    <testcase${attrs({ name: c.name, classname: c.classname, time: c.timeSec })}>\n${inner.join('\n')}\n    </testcase>`;
    })
    .join('\n');
  const xml = `  <testsuite${attrs({ name: suiteName, tests: cases.length, failures, errors: 0, skipped: 0, time: secs(durationMs), timestamp, hostname: 'localhost' })}>
    <properties>
${props.map(([k, v]) => `      <property${attrs({ name: k, value: v })}/>`).join('\n')}
    </properties>
${caseXml}${summary ? `\n    <system-out>${escapeXml(summary)}</system-out>` : ''}
  </testsuite>`;
  return { xml, tests: cases.length, failures };
}

/** The whole JUnit document for one run. */
export function writeJUnit(input: ReportInput): string {
  const started = new Date(input.startedAt);
  // JUnit's timestamp is ISO 8601 without a zone designator.
  const timestamp = (Number.isNaN(started.getTime()) ? new Date(0) : started).toISOString().replace(/\.\d+Z$/, '');
  const suites: Suite[] = [];
  const seriesLabels = new Set(input.series.map((s) => s.label));
  if (input.series.length <= 1) {
    suites.push(suiteFor(input, input.series[0], input.expectations, timestamp, true));
  } else {
    for (const s of input.series) {
      const own = input.expectations.filter((e) => e.series === s.label);
      // With rules, the rules are the gate: a run no rule targets gets no suite of its own.
      if (own.length || input.expectations.length === 0) suites.push(suiteFor(input, s, own, timestamp, suites.length === 0));
    }
    // Rules not tied to one mitigation (or tied to an unknown one) still get reported.
    const loose = input.expectations.filter((e) => !e.series || !seriesLabels.has(e.series));
    if (loose.length) suites.push(suiteFor({ ...input, series: [] }, undefined, loose, timestamp, suites.length === 0));
  }
  const count = (field: 'tests' | 'failures'): number => suites.reduce((n, s) => n + s[field], 0);
  return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites${attrs({ name: `cachectl ${input.kind} ${input.scenario}`, tests: count('tests'), failures: count('failures'), errors: 0, time: secs(input.durationMs) })}>
${suites.map((s) => s.xml).join('\n')}
</testsuites>
`;
}
