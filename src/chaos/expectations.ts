import { usageError } from '../errors.js';
import type { ChaosMetrics, ExpectationResult, MetricName } from './types.js';
import { METRIC_NAMES } from './types.js';

/**
 * CI gating rules on measured numbers: `staleReads == 0`, `divergentKeys <= 5`,
 * `hitRate >= 0.8`. A rule may target one mitigation run: `proxy-delete.staleReads == 0`;
 * without a target it applies to every run of the scenario.
 */

export const OPERATORS = ['==', '!=', '<=', '>=', '<', '>'] as const;
export type Operator = (typeof OPERATORS)[number];

export interface Expectation {
  /** the rule as the user wrote it (normalised spacing) */
  rule: string;
  /** only this mitigation's run, or every run */
  target?: string;
  metric: MetricName;
  operator: Operator;
  value: number;
}

const RULE = /^\s*(?:([a-z][a-z0-9-]*)\.)?([A-Za-z]+)\s*(==|!=|<=|>=|<|>)\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?%?)\s*$/;

export function parseExpectation(text: string): Expectation {
  const m = RULE.exec(text);
  if (!m) {
    throw usageError(
      `cannot parse expectation "${text}"`,
      `write <metric> <op> <number>, e.g. --expect 'staleReads == 0' or --expect 'proxy-delete.hitRate >= 0.5'; operators: ${OPERATORS.join(' ')}; metrics: ${METRIC_NAMES.join(', ')}`,
      { rule: text },
    );
  }
  const [, target, metricRaw, operator, numRaw] = m;
  const metric = METRIC_NAMES.find((name) => name.toLowerCase() === metricRaw.toLowerCase());
  if (!metric) {
    throw usageError(`unknown metric "${metricRaw}" in expectation "${text}"`, `use one of: ${METRIC_NAMES.join(', ')}`, {
      rule: text,
      metric: metricRaw,
    });
  }
  // "80%" is accepted for ratios (hitRate) and means 0.8.
  const value = numRaw.endsWith('%') ? Number(numRaw.slice(0, -1)) / 100 : Number(numRaw);
  const rule = `${target ? `${target}.` : ''}${metric} ${operator} ${numRaw}`;
  return { rule, target, metric, operator: operator as Operator, value };
}

export function parseExpectations(texts: readonly string[] | undefined): Expectation[] {
  return (texts ?? []).map(parseExpectation);
}

export function compare(actual: number, operator: Operator, expected: number): boolean {
  // Ratios are measured as floats: compare with a small tolerance so "hitRate == 0.5" can hold.
  const eps = 1e-9;
  switch (operator) {
    case '==':
      return Math.abs(actual - expected) <= eps;
    case '!=':
      return Math.abs(actual - expected) > eps;
    case '<':
      return actual < expected - eps;
    case '<=':
      return actual <= expected + eps;
    case '>':
      return actual > expected + eps;
    case '>=':
      return actual >= expected - eps;
  }
}

export interface RunMetrics {
  /** mitigation (or variant) label of the run */
  label: string;
  metrics: ChaosMetrics;
}

/**
 * Evaluate every rule against every run it targets. A rule whose target matches no run fails
 * (a typo in a CI file must not pass silently).
 */
export function evaluateExpectations(expectations: readonly Expectation[], runs: readonly RunMetrics[]): ExpectationResult[] {
  const results: ExpectationResult[] = [];
  for (const exp of expectations) {
    const targets = exp.target ? runs.filter((r) => r.label === exp.target) : runs;
    if (targets.length === 0) {
      results.push({
        rule: exp.rule,
        run: exp.target ?? '(none)',
        metric: exp.metric,
        operator: exp.operator,
        expected: exp.value,
        actual: null,
        passed: false,
        message: `no run named "${exp.target}" in this scenario (runs: ${runs.map((r) => r.label).join(', ') || 'none'})`,
      });
      continue;
    }
    for (const run of targets) {
      const actual = run.metrics[exp.metric];
      const passed = typeof actual === 'number' && Number.isFinite(actual) && compare(actual, exp.operator, exp.value);
      results.push({
        rule: exp.rule,
        run: run.label,
        metric: exp.metric,
        operator: exp.operator,
        expected: exp.value,
        actual: typeof actual === 'number' ? actual : null,
        passed,
        message: passed
          ? `${run.label}: ${exp.metric} = ${formatMetric(actual)} (${exp.operator} ${exp.value}) ok`
          : `${run.label}: expected ${exp.metric} ${exp.operator} ${exp.value}, measured ${formatMetric(actual)}`,
      });
    }
  }
  return results;
}

export function formatMetric(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return 'n/a';
  return Number.isInteger(value) ? String(value) : value.toFixed(3);
}
