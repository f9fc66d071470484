/**
 * A short Markdown summary of a run for CI job pages (GitHub Actions $GITHUB_STEP_SUMMARY, GitLab
 * and others render it): verdict, the matrix, the expectations, and the replay command.
 */
import { formatDuration, formatNumber, formatPercent } from './scale.js';
import type { ReportInput } from './types.js';

const ICON: Record<string, string> = { pass: '✅', fail: '❌', incident: '⚠️', info: 'ℹ️' };

/** Markdown table cells: no pipes or newlines from user text. */
function cell(v: unknown): string {
  return String(v ?? '').replace(/\|/g, '\\|').replace(/[\r\n]+/g, ' ').replace(/</g, '&lt;');
}

export function renderMarkdownSummary(input: ReportInput): string {
  const lines: string[] = [];
  lines.push(`### ${ICON[input.verdict.status] ?? ''} ${cell(input.title)} — ${input.verdict.status.toUpperCase()}`);
  lines.push('');
  if (input.verdict.summary) lines.push(cell(input.verdict.summary), '');
  lines.push(`seed \`${cell(input.seed ?? '-')}\` · ${formatDuration(input.durationMs)}${input.runId ? ` · run \`${cell(input.runId)}\`` : ''}`, '');
  const rows: Array<[string, string, (v: number) => string]> = [
    ['staleReads', 'stale reads', formatNumber],
    ['divergentKeys', 'divergent keys', formatNumber],
    ['lostUpdates', 'lost updates', formatNumber],
    ['hitRate', 'hit rate', formatPercent],
    ['dbReads', 'database reads', formatNumber],
    ['failedWrites', 'failed writes', formatNumber],
    ['unknownOutcomes', 'unknown outcomes', formatNumber],
  ];
  const present = rows.filter(([k]) => input.series.some((s) => typeof s.totals[k] === 'number'));
  if (present.length && input.series.length) {
    lines.push(`| | ${input.series.map((s) => cell(s.label)).join(' | ')} |`);
    lines.push(`|---|${input.series.map(() => '---:').join('|')}|`);
    for (const [k, label, fmt] of present) {
      lines.push(`| ${label} | ${input.series.map((s) => (typeof s.totals[k] === 'number' ? fmt(s.totals[k] as number) : '–')).join(' | ')} |`);
    }
    lines.push('');
  }
  if (input.expectations.length) {
    lines.push('| | rule | run | measured |', '|---|---|---|---:|');
    for (const e of input.expectations) lines.push(`| ${e.pass ? '✅' : '❌'} | \`${cell(e.rule)}\` | ${cell(e.series ?? 'all')} | ${cell(e.value ?? '–')} |`);
    lines.push('');
  }
  lines.push('Replay:', '', '```sh', input.replayCommand.replace(/```/g, '` ` `'), '```', '');
  return lines.join('\n');
}
