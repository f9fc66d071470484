/**
 * renderHtmlReport: one self-contained HTML file for a run. Inline CSS, inline SVG, a few lines
 * of inline JS for the hover crosshair; no network, no external file, so it can be attached to
 * a CI run or mailed and opened anywhere. Reads at laptop width and prints (print CSS).
 */
import { buildChartSpecs, mergedWindows, renderChart, renderPhaseStrip, seriesColor, timeAxisFor, type ChartSpec } from './charts.js';
import { formatDuration, formatNumber, formatPercent } from './scale.js';
import { escapeAttr, escapeHtml, jsonForScript } from './svg.js';
import type { ReportAnomaly, ReportInput, ReportOperation, ReportSeries, ReportTotals, ReportVerdict } from './types.js';

/** Anomalies shown per series; the rest are counted, so a huge run still opens quickly. */
export const MAX_ANOMALIES_SHOWN = 60;
const MAX_OPS_PER_ANOMALY = 12;

interface MetricDef {
  key: string;
  label: string;
  better: 'lower' | 'higher';
  format: (v: number) => string;
  /** any non-zero value is a consistency problem (drawn red) */
  anomaly?: boolean;
  /** a breakdown or scenario-specific number: its row is left out when it is 0 everywhere */
  secondary?: boolean;
}

/** The matrix rows / headline tiles, in the order a reader cares about. */
export const METRICS: MetricDef[] = [
  { key: 'staleReads', label: 'Stale reads', better: 'lower', format: formatNumber, anomaly: true },
  { key: 'staleReadsDuringFault', label: '… during the fault', better: 'lower', format: formatNumber, anomaly: true, secondary: true },
  { key: 'staleReadsAfterHeal', label: '… after heal', better: 'lower', format: formatNumber, anomaly: true, secondary: true },
  { key: 'staleReadsAfterSwitch', label: '… after the switch', better: 'lower', format: formatNumber, anomaly: true, secondary: true },
  { key: 'divergentKeys', label: 'Divergent keys at the end', better: 'lower', format: formatNumber, anomaly: true },
  { key: 'divergentKeysAtHeal', label: 'Divergent keys at heal', better: 'lower', format: formatNumber, anomaly: true },
  { key: 'slaveStaleKeysAtHeal', label: '… slave stale at heal', better: 'lower', format: formatNumber, anomaly: true, secondary: true },
  { key: 'masterStaleKeysAtHeal', label: '… master stale at heal', better: 'lower', format: formatNumber, anomaly: true, secondary: true },
  { key: 'slaveStaleKeys', label: 'Slave stale keys', better: 'lower', format: formatNumber, anomaly: true, secondary: true },
  { key: 'masterStaleKeys', label: 'Master stale keys', better: 'lower', format: formatNumber, anomaly: true },
  { key: 'lostUpdates', label: 'Lost updates', better: 'lower', format: formatNumber, anomaly: true },
  { key: 'missingAckedWrites', label: 'Acknowledged writes missing', better: 'lower', format: formatNumber, anomaly: true },
  { key: 'maxStaleAgeMs', label: 'Worst staleness', better: 'lower', format: formatDuration },
  { key: 'hitRate', label: 'Hit rate', better: 'higher', format: formatPercent },
  { key: 'dbReads', label: 'Database reads', better: 'lower', format: formatNumber },
  { key: 'failedWrites', label: 'Failed writes', better: 'lower', format: formatNumber },
  { key: 'unknownOutcomes', label: 'Unknown outcomes', better: 'lower', format: formatNumber },
  { key: 'masterCasFailures', label: 'Master CAS failures', better: 'lower', format: formatNumber, secondary: true },
  { key: 'slaveWritesDuringFault', label: 'Short-TTL writes to the slave', better: 'lower', format: formatNumber, secondary: true },
  { key: 'expiredShortTtlEntries', label: 'Short-TTL entries expired', better: 'higher', format: formatNumber, secondary: true },
  { key: 'shortTtlEntriesNotExpired', label: 'Short-TTL entries not expired', better: 'lower', format: formatNumber, anomaly: true, secondary: true },
  { key: 'mastersInUse', label: 'Masters in use (2 = split brain)', better: 'lower', format: formatNumber },
  { key: 'errors', label: 'Errors', better: 'lower', format: formatNumber, secondary: true },
  { key: 'operations', label: 'Operations', better: 'higher', format: formatNumber },
  { key: 'opsPerSec', label: 'Throughput (ops/s)', better: 'higher', format: formatNumber },
  { key: 'readP50Ms', label: 'Read latency p50', better: 'lower', format: (v) => `${formatNumber(v)} ms` },
  { key: 'readP99Ms', label: 'Read latency p99', better: 'lower', format: (v) => `${formatNumber(v)} ms` },
  { key: 'updateP50Ms', label: 'Update latency p50', better: 'lower', format: (v) => `${formatNumber(v)} ms` },
  { key: 'updateP99Ms', label: 'Update latency p99', better: 'lower', format: (v) => `${formatNumber(v)} ms` },
  { key: 'p50Ms', label: 'Latency p50', better: 'lower', format: (v) => `${formatNumber(v)} ms` },
  { key: 'p99Ms', label: 'Latency p99', better: 'lower', format: (v) => `${formatNumber(v)} ms` },
];

function metricDefs(series: ReportSeries[]): MetricDef[] {
  const known = new Set(METRICS.map((m) => m.key));
  const present = (k: string): boolean => series.some((s) => typeof s.totals[k] === 'number');
  const nonZero = (k: string): boolean => series.some((s) => typeof s.totals[k] === 'number' && s.totals[k] !== 0);
  const extra = [...new Set(series.flatMap((s) => Object.keys(s.totals)))]
    .filter((k) => !known.has(k) && present(k))
    .sort()
    .map((k): MetricDef => ({ key: k, label: k, better: 'lower', format: formatNumber }));
  return [...METRICS.filter((m) => present(m.key) && (!m.secondary || nonZero(m.key))), ...extra];
}

const VERDICT_TEXT: Record<ReportVerdict['status'], string> = {
  pass: 'PASS',
  fail: 'FAIL',
  incident: 'INCIDENT REPRODUCED',
  info: 'DONE',
};

function verdictBadge(v: ReportVerdict, small = false): string {
  return `<span class="badge badge-${escapeAttr(v.status)}${small ? ' badge-small' : ''}">${escapeHtml(VERDICT_TEXT[v.status] ?? v.status)}</span>`;
}

/** The verdict in plain words; a multi-line summary (one line per run) becomes a list. */
function renderSummary(v: ReportVerdict): string {
  const lines = v.summary.split('\n').map((l) => l.trim()).filter(Boolean);
  const body = lines.length > 1 ? `<ul>${lines.map((l) => `<li>${escapeHtml(l)}</li>`).join('')}</ul>` : escapeHtml(lines[0] ?? '');
  return `<div class="summary summary-${escapeAttr(v.status)}">${body}</div>`;
}

/** A pass on the rules is not a clean run: say so when the checker still found problems. */
function verdictNote(input: ReportInput): string {
  if (input.verdict.status !== 'pass' || input.expectations.length === 0) return '';
  const flagged = input.series.filter((s) => s.verdict && (s.verdict.status === 'fail' || s.verdict.status === 'incident'));
  if (flagged.length === 0) return '<div class="verdict-note">every rule met</div>';
  const which = input.series.length > 1 ? ` in ${flagged.map((s) => s.label).join(', ')}` : '';
  return `<div class="verdict-note">every rule met, but the checker found anomalies${escapeHtml(which)}</div>`;
}

function renderHeader(input: ReportInput): string {
  const started = new Date(input.startedAt);
  const startedText = Number.isNaN(started.getTime()) ? input.startedAt : started.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const facts: Array<[string, string]> = [
    ['Scenario', input.scenario],
    ['Started', startedText],
    ['Duration', formatDuration(input.durationMs)],
    ['Seed', input.seed === null ? '–' : String(input.seed)],
  ];
  if (input.runId) facts.push(['Run id', input.runId]);
  return `<header class="top">
  <div class="top-main">
    <div class="kicker">cachectl · ${escapeHtml(input.kind)} report</div>
    <h1>${escapeHtml(input.title)}</h1>
    <dl class="facts">${facts.map(([k, v]) => `<div><dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd></div>`).join('')}</dl>
  </div>
  <div class="top-verdict">${verdictBadge(input.verdict)}${verdictNote(input)}</div>
</header>
${renderSummary(input.verdict)}
<section class="replay" aria-label="replay command">
  <div class="replay-head"><h2>Replay this run</h2><button type="button" class="copy" data-copy="replay-cmd">Copy</button></div>
  <pre id="replay-cmd"><code>$ ${escapeHtml(input.replayCommand)}</code></pre>
</section>`;
}

function renderExpectations(input: ReportInput): string {
  if (input.expectations.length === 0) {
    return `<p class="muted no-rules">No <code>--expect</code> rules were given for this run: the verdict comes from the checker.</p>`;
  }
  const multi = input.series.length > 1;
  const rows = input.expectations
    .map(
      (e) => `<tr class="${e.pass ? 'ok' : 'failed'}">
  <td><span class="pill ${e.pass ? 'pill-pass' : 'pill-fail'}">${e.pass ? 'pass' : 'fail'}</span></td>
  <td><code>${escapeHtml(e.rule)}</code>${e.message && !e.pass ? `<div class="why">${escapeHtml(e.message)}</div>` : ''}</td>
  ${multi ? `<td>${escapeHtml(e.series ?? 'all')}</td>` : ''}
  <td class="num">${escapeHtml(typeof e.value === 'number' ? formatNumber(e.value) : (e.value ?? '–'))}</td>
</tr>`,
    )
    .join('');
  const failed = input.expectations.filter((e) => !e.pass).length;
  return `<section class="card wide"><h2>Expectations <span class="count">${input.expectations.length - failed}/${input.expectations.length} met</span></h2>
<table class="expectations"><thead><tr><th></th><th>Rule</th>${multi ? '<th>Mitigation</th>' : ''}<th class="num">Measured</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

function renderSettings(input: ReportInput): string {
  const entries = Object.entries(input.settings);
  if (entries.length === 0) return '';
  return `<section class="card wide"><h2>Settings</h2><dl class="settings">${entries
    .map(([k, v]) => `<div><dt>${escapeHtml(k.replace(/_/g, ' '))}</dt><dd>${escapeHtml(v === null ? '–' : String(v))}</dd></div>`)
    .join('')}</dl></section>`;
}

function bestIndex(def: MetricDef, values: Array<number | undefined>): number[] {
  const nums = values.filter((v): v is number => typeof v === 'number');
  if (nums.length < 2) return [];
  const best = def.better === 'lower' ? Math.min(...nums) : Math.max(...nums);
  if (nums.every((v) => v === best)) return [];
  return values.flatMap((v, i) => (v === best ? [i] : []));
}

function renderMatrix(series: ReportSeries[]): string {
  const defs = metricDefs(series);
  const head = series
    .map((s, i) => `<th class="num"><span class="swatch" style="background:${escapeAttr(seriesColor(s.label, i))}"></span>${escapeHtml(s.label)}</th>`)
    .join('');
  const verdictRow = series.some((s) => s.verdict)
    ? `<tr class="verdict-row"><th>Verdict</th>${series.map((s) => `<td class="num">${s.verdict ? verdictBadge(s.verdict, true) : '–'}</td>`).join('')}</tr>`
    : '';
  const rows = defs
    .map((def) => {
      const values = series.map((s) => s.totals[def.key]);
      const best = bestIndex(def, values);
      return `<tr><th>${escapeHtml(def.label)}</th>${values
        .map((v, i) => {
          const cls = ['num', best.includes(i) ? 'best' : '', def.anomaly && typeof v === 'number' && v > 0 ? 'bad' : ''].filter(Boolean).join(' ');
          return `<td class="${cls}">${typeof v === 'number' ? escapeHtml(def.format(v)) : '–'}</td>`;
        })
        .join('')}</tr>`;
    })
    .join('');
  return `<section class="card wide"><h2>Mitigation matrix <span class="count">same seed, same plan</span></h2>
<table class="matrix"><thead><tr><th></th>${head}</tr></thead><tbody>${verdictRow}${rows}</tbody></table>
<p class="muted legend-note"><b>Bold</b> = best in the row; red = a consistency problem.</p></section>`;
}

/** The headline tiles of a single run; the full list is in the matrix of a multi-run report. */
const TILE_KEYS = ['staleReads', 'divergentKeys', 'masterStaleKeys', 'lostUpdates', 'missingAckedWrites', 'maxStaleAgeMs', 'hitRate', 'dbReads', 'failedWrites', 'unknownOutcomes', 'opsPerSec', 'readP99Ms', 'updateP99Ms', 'p99Ms'];

function renderTiles(s: ReportSeries): string {
  const defs = metricDefs([s]).filter((d) => TILE_KEYS.includes(d.key));
  return `<section class="tiles" aria-label="key numbers">${defs
    .map((d) => {
      const v = s.totals[d.key] as number;
      return `<div class="tile${d.anomaly && v > 0 ? ' tile-bad' : ''}"><div class="tile-value">${escapeHtml(d.format(v))}</div><div class="tile-label">${escapeHtml(d.label)}</div></div>`;
    })
    .join('')}</section>`;
}

function renderLegend(spec: ChartSpec): string {
  return `<div class="legend">${spec.lines
    .map(
      (l) =>
        `<span class="legend-item"><svg width="26" height="10" aria-hidden="true"><line x1="1" x2="25" y1="5" y2="5" stroke="${escapeAttr(l.color)}" stroke-width="2.5"${l.dash ? ` stroke-dasharray="${escapeAttr(l.dash)}"` : ''}/></svg>${escapeHtml(l.name)}</span>`,
    )
    .join('')}</div>`;
}

function renderTimeline(input: ReportInput): string {
  const series = input.series;
  const axis = timeAxisFor(series);
  const windows = mergedWindows(series);
  const ref = series[0];
  const specs = buildChartSpecs(series);
  const hasData = series.some((s) => s.perSecond.length > 0);
  const charts = specs
    .map(
      (spec) => `<figure class="chart" id="chart-${escapeAttr(spec.id)}">
  <figcaption><span class="chart-title">${escapeHtml(spec.title)}</span> <span class="chart-unit">${escapeHtml(spec.unit)}</span>${renderLegend(spec)}</figcaption>
  ${renderChart(spec, axis, windows)}
  ${spec.note ? `<div class="chart-note">${escapeHtml(spec.note)}</div>` : ''}
</figure>`,
    )
    .join('');
  const windowLegend = windows.length
    ? `<div class="window-legend">${[...new Set(windows.map((w) => w.kind))]
        .map((k) => `<span class="legend-item"><span class="window-swatch window-${escapeAttr(k)}"></span>${k === 'fault' ? 'fault active' : k === 'switch' ? 'manual switch' : escapeHtml(k)}</span>`)
        .join('')}</div>`
    : '';
  return `<section class="timeline" aria-label="timeline">
  <div class="timeline-head"><h2>Timeline <span class="count">per second since start${series.length > 1 ? ' · mitigations on the same axes' : ''}</span></h2>${windowLegend}</div>
  ${hasData ? '' : '<p class="muted">This run recorded no per-second samples.</p>'}
  <div class="phase-strip">${renderPhaseStrip(ref?.phases ?? [], ref?.events ?? [], axis)}</div>
  ${charts}
  <div id="tooltip" class="tooltip" role="status" aria-live="polite" hidden></div>
</section>`;
}

function fmtSec(v: number | null | undefined): string {
  return v === null || v === undefined ? '–' : `${v.toFixed(3)}s`;
}

function renderOperation(op: ReportOperation): string {
  return `<tr class="op-${escapeAttr(op.outcome)}"><td>${escapeHtml(op.client)}</td><td>${escapeHtml(op.op)}</td><td><code>${escapeHtml(op.key)}</code></td><td class="num">${fmtSec(op.invokeSec)}</td><td class="num">${fmtSec(op.completeSec)}</td><td>${escapeHtml(op.outcome)}</td><td class="num">${escapeHtml(op.version ?? '–')}</td><td>${escapeHtml(op.node ?? '–')}</td><td>${escapeHtml(op.note ?? '')}</td></tr>`;
}

function renderAnomaly(a: ReportAnomaly): string {
  const ops = a.operations.slice(0, MAX_OPS_PER_ANOMALY);
  const more = a.operations.length - ops.length;
  const body = ops.length
    ? `<table class="ops"><thead><tr><th>Client</th><th>Op</th><th>Key</th><th class="num">Invoked</th><th class="num">Completed</th><th>Outcome</th><th class="num">Version</th><th>Node</th><th>Note</th></tr></thead><tbody>${ops.map(renderOperation).join('')}</tbody></table>${more > 0 ? `<p class="muted">… and ${more} more operations</p>` : ''}`
    : '';
  const head = `${a.key !== undefined ? `<code>${escapeHtml(a.key)}</code> ` : ''}<span class="desc">${escapeHtml(a.description)}</span>`;
  // Without operations there is nothing to unfold: a plain line.
  if (!body) return `<div class="anomaly anomaly-flat">${head}</div>`;
  return `<details class="anomaly"><summary>${head}</summary>${body}</details>`;
}

/** Kinds in the order they matter; the rest after, alphabetically. */
const KIND_ORDER = ['stale-read', 'lost-update', 'missing-acked-write', 'impossible-read', 'corrupt-read'];
const kindRank = (k: string): number => (KIND_ORDER.includes(k) ? KIND_ORDER.indexOf(k) : k.startsWith('divergence') ? KIND_ORDER.length : KIND_ORDER.length + 1);

function renderSeriesAnomalies(s: ReportSeries, index: number, multi: boolean, open: boolean): string {
  const shown = s.anomalies.slice(0, MAX_ANOMALIES_SHOWN);
  const omitted = s.anomalies.length - shown.length + (s.anomaliesOmitted ?? 0);
  const byKind = new Map<string, ReportAnomaly[]>();
  for (const a of shown) byKind.set(a.kind, [...(byKind.get(a.kind) ?? []), a]);
  const kinds = [...byKind.keys()].sort((a, b) => kindRank(a) - kindRank(b) || a.localeCompare(b));
  const counts = kinds.map((k) => `${byKind.get(k)!.length} ${k}`).join(' · ');
  const totalOf: Record<string, string> = { 'stale-read': 'staleReads', 'lost-update': 'lostUpdates', 'missing-acked-write': 'missingAckedWrites' };
  const listed = (k: string): string => {
    const n = byKind.get(k)!.length;
    const total = s.totals[totalOf[k] ?? ''];
    return typeof total === 'number' && total > n ? `${n} listed of ${formatNumber(total)}` : `${n} listed`;
  };
  const groups = kinds
    .map((k) => `<div class="kind-group"><h4><span class="kind">${escapeHtml(k)}</span> <span class="count">${listed(k)}</span></h4>${byKind.get(k)!.map(renderAnomaly).join('')}</div>`)
    .join('');
  const tail = omitted > 0 ? `<p class="muted">… and ${formatNumber(omitted)} more found but not listed (the checker keeps examples; the run JSON has them all as numbers).</p>` : '';
  if (!multi) return s.anomalies.length || omitted ? `<p class="muted kinds-line">${escapeHtml(counts)}</p>${groups}${tail}` : '<p class="muted clean">No anomaly found in this run.</p>';
  const empty = s.anomalies.length === 0 && !omitted;
  return `<details class="series-anomalies"${open && !empty ? ' open' : ''}>
  <summary><span class="swatch" style="background:${escapeAttr(seriesColor(s.label, index))}"></span><b>${escapeHtml(s.label)}</b> <span class="count">${empty ? 'no anomaly' : escapeHtml(counts) + (omitted > 0 ? ` · ${formatNumber(omitted)} more` : '')}</span></summary>
  ${empty ? '<p class="muted clean">No anomaly found.</p>' : groups + tail}
</details>`;
}

function renderAnomalies(series: ReportSeries[]): string {
  const total = series.reduce((n, s) => n + s.anomalies.length + (s.anomaliesOmitted ?? 0), 0);
  const firstWith = series.findIndex((s) => s.anomalies.length > 0);
  const blocks = series.map((s, i) => renderSeriesAnomalies(s, i, series.length > 1, i === firstWith)).join('');
  return `<section class="card wide anomalies"><h2>Anomalies <span class="count">${formatNumber(total)} found · click a line for the operations that prove it</span></h2>${blocks}</section>`;
}

/** Per-second data for the hover tooltip, compact: one array per chart line. */
function tooltipData(input: ReportInput): unknown {
  const specs = buildChartSpecs(input.series);
  const windows = mergedWindows(input.series);
  const phases = input.series[0]?.phases ?? [];
  return {
    phases: phases.map((p) => [p.name, p.startSec, p.endSec]),
    windows: windows.map((w) => [w.label, w.startSec, w.endSec]),
    charts: Object.fromEntries(
      specs.map((s) => [
        s.id,
        {
          unit: s.unit,
          percent: s.yScale === 'percent',
          lines: s.lines.map((l) => ({ name: l.name, color: l.color, v: Object.fromEntries(l.values.map((p) => [p.second, p.value])) })),
        },
      ]),
    ),
  };
}

const CSS = `
:root{--fg:#1d2430;--muted:#5f6b7a;--line:#dde2e8;--bg:#f6f7f9;--card:#fff;--pass:#1a7f37;--fail:#c62828;--incident:#b25e00;--fault:#D55E00;--switch:#6a51a3;--mono:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1180px;margin:0 auto;padding:24px 28px 40px}
h1{font-size:24px;line-height:1.2;margin:2px 0 10px;font-weight:650}
h2{font-size:15px;margin:0 0 10px;font-weight:650}
h3{font-size:14px;margin:14px 0 6px}
code,pre{font-family:var(--mono);font-size:12.5px}
.count{font-weight:400;color:var(--muted);font-size:12.5px;margin-left:6px}
.muted{color:var(--muted)}
.top{display:flex;gap:24px;align-items:flex-start;justify-content:space-between}
.kicker{text-transform:uppercase;letter-spacing:.08em;font-size:11.5px;color:var(--muted);font-weight:600}
.facts{display:flex;flex-wrap:wrap;gap:6px 26px;margin:0}
.facts div{display:flex;flex-direction:column}
.facts dt{font-size:11px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted)}
.facts dd{margin:0;font-weight:550}
.badge{display:inline-block;padding:8px 16px;border-radius:8px;font-weight:750;letter-spacing:.04em;color:#fff;font-size:16px;white-space:nowrap}
.top-verdict{text-align:right}
.verdict-note{font-size:12px;color:var(--muted);margin-top:6px;max-width:260px}
.badge-small{padding:2px 8px;font-size:11px;border-radius:5px;letter-spacing:.03em}
.badge-pass{background:var(--pass)}.badge-fail{background:var(--fail)}.badge-incident{background:var(--incident)}.badge-info{background:#44546a}
.summary{font-size:15px;margin:14px 0 16px;padding:10px 14px;border-left:4px solid #44546a;background:var(--card);border-radius:0 6px 6px 0}
.summary ul{margin:0;padding-left:18px}.summary li{margin:2px 0}
.summary-pass{border-color:var(--pass)}.summary-fail{border-color:var(--fail)}.summary-incident{border-color:var(--incident)}
.replay{background:#1f2733;color:#e8edf3;border-radius:8px;padding:10px 14px;margin-bottom:16px}
.replay-head{display:flex;justify-content:space-between;align-items:center}
.replay h2{color:#aab6c5;font-size:11.5px;text-transform:uppercase;letter-spacing:.07em;margin:0}
.replay pre{margin:6px 0 2px;white-space:pre-wrap;word-break:break-all}
.copy{font:inherit;font-size:12px;background:#33404f;color:#e8edf3;border:1px solid #4a5869;border-radius:5px;padding:2px 10px;cursor:pointer}
.copy:hover{background:#3e4d60}
.grid2{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:16px;margin-bottom:16px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:14px 16px}
.card.wide{margin-bottom:16px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
thead th{font-size:11.5px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.settings{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px 18px;margin:0}
.settings dt{font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted)}
.settings dd{margin:0;font-family:var(--mono);font-size:12.5px;overflow-wrap:anywhere}
.pill{display:inline-block;border-radius:10px;padding:0 8px;font-size:11.5px;font-weight:650}
.pill-pass{background:#dcf3e2;color:var(--pass)}.pill-fail{background:#fde2e1;color:var(--fail)}
tr.failed td{background:#fff6f5}
.why{color:var(--fail);font-size:12.5px;margin-top:2px}
.matrix td{font-size:14px}
.matrix td.best{font-weight:750}
.matrix td.bad{color:var(--fail)}
.matrix tbody th{font-weight:500}
.verdict-row th,.verdict-row td{border-bottom:2px solid var(--line)}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;vertical-align:-1px}
.legend-note{font-size:12px;margin:8px 0 0}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(118px,1fr));gap:10px;margin-bottom:16px}
.tile{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 12px}
.tile-value{font-size:21px;font-weight:700;font-variant-numeric:tabular-nums}
.tile-label{font-size:12px;color:var(--muted)}
.tile-bad{border-color:#f3b7b2;background:#fff7f6}.tile-bad .tile-value{color:var(--fail)}
.timeline{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:14px 16px 6px;margin-bottom:16px;position:relative}
.timeline-head{display:flex;justify-content:space-between;align-items:baseline;flex-wrap:wrap;gap:8px}
.window-legend{display:flex;gap:14px;font-size:12px;color:var(--muted)}
.window-swatch{display:inline-block;width:14px;height:10px;margin-right:5px;vertical-align:-1px;border-radius:2px}
.window-swatch.window-fault{background:rgba(213,94,0,.22);border:1px solid rgba(213,94,0,.6)}
.window-swatch.window-switch{background:rgba(106,81,163,.22);border:1px solid rgba(106,81,163,.6)}
.window-swatch.window-other{background:rgba(90,90,90,.16)}
.phase-strip svg{display:block;width:100%;height:auto}
.phase-rect{stroke:#fff;stroke-width:1}
.phase-a{fill:#e3e8ee}.phase-b{fill:#d3dae3}.phase-fault{fill:#f6c9ad}.phase-heal{fill:#cfe8d8}.phase-switch{fill:#d9d0ee}
.phase-label{font-size:11.5px;fill:#2d3744;font-weight:600}
.event-mark{fill:#44546a}
.chart{margin:4px 0 10px;break-inside:avoid;page-break-inside:avoid}
.chart figcaption{display:flex;flex-wrap:wrap;align-items:baseline;gap:4px 8px;margin-left:4px}
.chart-title{font-weight:650;font-size:13.5px}
.chart-unit{color:var(--muted);font-size:12px}
.legend{display:flex;flex-wrap:wrap;gap:2px 12px;margin-left:auto;font-size:12px;color:#3c4756}
.legend-item{display:inline-flex;align-items:center;gap:5px;white-space:nowrap}
.chart-note{font-size:11.5px;color:var(--muted);margin:-2px 0 0 58px}
.chart-svg{display:block;width:100%;height:auto;overflow:visible}
.chart-svg .grid{stroke:#edf0f3;stroke-width:1}
.chart-svg .axis{stroke:#9aa5b1;stroke-width:1}
.chart-svg .tick{font-size:10.5px;fill:#5f6b7a;font-variant-numeric:tabular-nums}
.series-line{stroke-width:1.8;stroke-linejoin:round;stroke-linecap:round;vector-effect:non-scaling-stroke}
.area{opacity:.22}
.window.window-fault{fill:rgba(213,94,0,.10)}
.window.window-switch{fill:rgba(106,81,163,.14)}
.window.window-other{fill:rgba(90,90,90,.08)}
.window-edge{stroke-width:1;stroke-dasharray:3 3}
.window-edge.window-fault{stroke:rgba(213,94,0,.55)}
.window-edge.window-switch{stroke:rgba(106,81,163,.6)}
.window-edge.window-other{stroke:rgba(90,90,90,.4)}
.window-label{font-size:10.5px;font-weight:650}
.window-label.window-fault{fill:#a44700}.window-label.window-switch{fill:#54408a}.window-label.window-other{fill:#555}
.crosshair{stroke:#1d2430;stroke-width:1;opacity:.45;pointer-events:none}
.tooltip{position:absolute;z-index:5;pointer-events:none;background:#1f2733;color:#eef2f6;font-size:12px;border-radius:6px;padding:7px 9px;box-shadow:0 4px 14px rgba(0,0,0,.18);min-width:150px;max-width:320px}
.tooltip b{display:block;margin-bottom:3px}
.tooltip .row{display:flex;justify-content:space-between;gap:12px;white-space:nowrap}
.tooltip .dot{display:inline-block;width:8px;height:8px;border-radius:50%;margin-right:5px}
.series-anomalies{border-top:1px solid var(--line);padding:4px 0}
.series-anomalies>summary{cursor:pointer;padding:6px 2px;font-size:13.5px}
.kind-group{margin:4px 0 10px 14px}
.kind-group h4{margin:8px 0 4px;font-size:12.5px;font-weight:600}
.kind{display:inline-block;background:#fde2e1;color:var(--fail);border-radius:4px;padding:0 6px;font-size:12px;font-weight:650}
.anomaly{font-size:12.5px;border-bottom:1px dashed #e6e9ee}
.anomaly>summary,.anomaly-flat{padding:3px 4px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.anomaly>summary{cursor:pointer}
.anomaly[open]>summary{white-space:normal}
.anomaly-flat{padding-left:18px}
.kinds-line{margin:0 0 6px}
.anomaly .ops{margin:0 0 8px;font-size:12.5px}
.anomaly .ops td,.anomaly .ops th{padding:3px 8px}
.ops tr.op-fail td,.ops tr.op-unknown td{color:#8a4b00}
.clean{color:var(--pass)}
.no-rules{margin:-4px 0 14px;font-size:13px}
footer{color:var(--muted);font-size:12px;margin-top:18px}
@media (max-width:860px){main{padding:16px}.grid2{grid-template-columns:1fr}.top{flex-direction:column-reverse;gap:8px}}
@media print{
  @page{margin:12mm}
  body{background:#fff;font-size:11px}
  main{max-width:none;padding:0}
  .copy,.tooltip,.crosshair{display:none!important}
  .card,.timeline,.tile{border-color:#c9cfd6}
  .replay{background:#fff;color:#000;border:1px solid #c9cfd6}
  .replay h2{color:#555}
  *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
  .timeline{break-before:auto}
  .anomaly{break-inside:avoid}
  .anomaly>summary,.anomaly-flat{white-space:normal}
  h2{break-after:avoid}
}
`;

/** Crosshair + tooltip across all charts, copy button, expand anomalies for print. No globals leak. */
const SCRIPT = `(function(){
'use strict';
var dataEl=document.getElementById('report-data');
var data=dataEl?JSON.parse(dataEl.textContent||'{}'):{};
var tip=document.getElementById('tooltip');
var charts=Array.prototype.slice.call(document.querySelectorAll('svg.chart-svg'));
function esc(s){return String(s).replace(/[&<>"']/g,function(c){return{'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c];});}
function fmt(v,pct){if(v===null||v===undefined)return '–';if(pct)return v.toFixed(1)+'%';if(Math.abs(v)>=100||Number.isInteger(v))return Math.round(v).toLocaleString('en-US');return String(Number(v.toPrecision(3)));}
function phaseAt(t){var ps=data.phases||[];for(var i=0;i<ps.length;i++){if(t>=ps[i][1]&&t<ps[i][2])return ps[i][0];}return '';}
function windowsAt(t){return (data.windows||[]).filter(function(w){return t+1>w[1]&&t<w[2];}).map(function(w){return w[0];});}
function hide(){if(tip)tip.hidden=true;charts.forEach(function(c){var h=c.querySelector('.crosshair');if(h){h.setAttribute('visibility','hidden');}});}
charts.forEach(function(svg){
  svg.addEventListener('mousemove',function(ev){
    var r=svg.getBoundingClientRect();var vb=svg.viewBox.baseVal;
    var x=(ev.clientX-r.left)/r.width*vb.width;
    var x0=+svg.dataset.x0,x1=+svg.dataset.x1,t0=+svg.dataset.t0,t1=+svg.dataset.t1;
    if(x<x0||x>x1){hide();return;}
    var t=Math.floor(t0+(x-x0)/(x1-x0)*(t1-t0));if(t>=t1)t=t1-1;
    var cx=x0+(t+0.5-t0)/(t1-t0)*(x1-x0);
    charts.forEach(function(c){var h=c.querySelector('.crosshair');if(h){h.setAttribute('x1',cx);h.setAttribute('x2',cx);h.setAttribute('visibility','visible');}});
    var spec=(data.charts||{})[svg.dataset.chart];if(!spec||!tip)return;
    var ph=phaseAt(t+0.5);var ws=windowsAt(t);
    var html='<b>'+esc(t+'s – '+(t+1)+'s')+(ph?' · '+esc(ph):'')+'</b>';
    if(ws.length)html+='<div style="color:#f3b38a">'+esc(ws.join(', '))+'</div>';
    spec.lines.forEach(function(l){var v=l.v[t];html+='<div class="row"><span><span class="dot" style="background:'+esc(l.color)+'"></span>'+esc(l.name)+'</span><span>'+esc(fmt(v===undefined?null:v,spec.percent))+'</span></div>';});
    tip.innerHTML=html;tip.hidden=false;
    var host=tip.parentElement.getBoundingClientRect();
    var left=ev.clientX-host.left+14;if(left+tip.offsetWidth>host.width)left=ev.clientX-host.left-tip.offsetWidth-14;
    tip.style.left=Math.max(0,left)+'px';tip.style.top=(ev.clientY-host.top+14)+'px';
  });
  svg.addEventListener('mouseleave',hide);
});
Array.prototype.forEach.call(document.querySelectorAll('button.copy'),function(b){
  b.addEventListener('click',function(){
    var src=document.getElementById(b.getAttribute('data-copy'));if(!src)return;
    var text=(src.textContent||'').replace(/^\\$ /,'');
    var done=function(){b.textContent='Copied';setTimeout(function(){b.textContent='Copy';},1500);};
    if(navigator.clipboard&&navigator.clipboard.writeText){navigator.clipboard.writeText(text).then(done,function(){});}
  });
});
window.addEventListener('beforeprint',function(){Array.prototype.forEach.call(document.querySelectorAll('details.series-anomalies'),function(d){d.open=true;});});
})();`;

export interface RenderOptions {
  /** shown in the footer; defaults to now */
  generatedAt?: Date;
  /** cachectl version for the footer */
  version?: string;
}

export function renderHtmlReport(input: ReportInput, opts: RenderOptions = {}): string {
  const multi = input.series.length > 1;
  const generated = (opts.generatedAt ?? new Date()).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const body = [
    renderHeader(input),
    multi ? renderMatrix(input.series) : input.series[0] ? renderTiles(input.series[0]) : '',
    renderExpectations(input),
    renderTimeline(input),
    renderAnomalies(input.series),
    renderSettings(input),
  ].join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(`${VERDICT_TEXT[input.verdict.status] ?? input.verdict.status} · ${input.title}`)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
${body}
<footer>Generated by cachectl${opts.version ? ` ${escapeHtml(opts.version)}` : ''} on ${escapeHtml(generated)} · self-contained file, no network needed · hover a chart for per-second values</footer>
</main>
<script type="application/json" id="report-data">${jsonForScript(tooltipData(input))}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
