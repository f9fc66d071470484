/**
 * Live progress on stderr for long runs (workload, chaos scenarios): the current phase,
 * elapsed/remaining, ops/s, errors, unknown outcomes and stale reads so far.
 * On a terminal one line is redrawn in place; when stderr is not a terminal, or with --json,
 * it stays quiet (CI logs and pipes get the final result only).
 *
 * Wiring (from a command, which only passes hooks into library code):
 *   const progress = createProgress({ enabled: !this.jsonEnabled(), plan: [{ name: 'warm-up', ms: 5000 }, ...] });
 *   await runScenario({ ..., onPhase: progress.phase, onSecond: progress.second, onEvent: progress.event });
 *   progress.done();
 */
import type { Clock } from '../util/clock.js';
import { systemClock } from '../util/clock.js';
import type { PhaseName } from './types.js';

/** One second of measurements. The workload runner's SecondStats fits as is (`fails` = errors),
 *  so `onSecond: progress.second` wires it directly. */
export interface ProgressSample {
  /** operations completed in the last second (all op types) */
  ops: number;
  errors?: number;
  /** alias of errors (the workload runner's name) */
  fails?: number;
  unknowns?: number;
  /** stale reads seen in this second (added to the running total) */
  staleReads?: number;
}

export interface PlannedPhase {
  name: PhaseName;
  ms: number;
}

export interface ProgressStream {
  write(chunk: string): boolean;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** false with --json; default true */
  enabled?: boolean;
  stream?: ProgressStream;
  /** the planned phases and their durations: gives "remaining" and the phase bar */
  plan?: PlannedPhase[];
  /** total planned run time when there is no phase plan (workload --duration) */
  totalMs?: number;
  /** a prefix such as "proxy-delete" when several runs follow each other */
  label?: string;
  clock?: Clock;
  /** redraw at most this often (ms); samples in between only update the numbers */
  minRedrawMs?: number;
  /** colour codes (terminal, no NO_COLOR) */
  color?: boolean;
}

export interface ProgressReporter {
  /** true when anything is drawn at all (a TTY and not --json) */
  readonly active: boolean;
  /** a phase started; arrow function, safe to pass as a hook */
  phase: (name: PhaseName) => void;
  /** one second of measurements (the workload runner's onSecond hook) */
  second: (sample: ProgressSample) => void;
  /** a one-off event printed above the progress line ("master killed") */
  event: (message: string) => void;
  /** switch to the next run of a series (mitigation matrix) and reset the counters */
  startRun: (label: string, plan?: PlannedPhase[]) => void;
  /** clear the line; call in finally */
  done: () => void;
  /** the text of the current line (no control codes): for tests and the non-TTY final line */
  readonly line: string;
}

export function formatClock(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const m = Math.floor(total / 60);
  const s = total % 60;
  return `${m}:${String(s).padStart(2, '0')}`;
}

function compact(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return n.toLocaleString('en-US');
}

const DIM = (s: string, on: boolean): string => (on ? `\x1b[2m${s}\x1b[22m` : s);
const BOLD = (s: string, on: boolean): string => (on ? `\x1b[1m${s}\x1b[22m` : s);
const RED = (s: string, on: boolean): string => (on ? `\x1b[31m${s}\x1b[39m` : s);

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/** Cut a line with colour codes to a visible width (so a redraw never wraps). */
export function truncateVisible(line: string, width: number): string {
  if (line.replace(ANSI, '').length <= width) return line;
  let visible = 0;
  let out = '';
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\x1b') {
      const m = /^\x1b\[[0-9;]*m/.exec(line.slice(i));
      if (m) {
        out += m[0];
        i += m[0].length - 1;
        continue;
      }
    }
    if (visible >= width - 1) break;
    out += line[i];
    visible++;
  }
  return out + '…' + (line.includes('\x1b[') ? '\x1b[0m' : '');
}

export function createProgress(opts: ProgressOptions = {}): ProgressReporter {
  const stream = opts.stream ?? process.stderr;
  const clock = opts.clock ?? systemClock;
  const active = (opts.enabled ?? true) && Boolean(stream.isTTY);
  const color = active && (opts.color ?? (process.env.NO_COLOR === undefined || process.env.NO_COLOR === ''));
  const minRedrawMs = opts.minRedrawMs ?? 100;

  let label = opts.label ?? '';
  let plan = opts.plan ?? [];
  let startedAt = clock.monotonic();
  let phaseName: PhaseName | '' = '';
  let phaseStartedAt = startedAt;
  let opsPerSec = 0;
  let errors = 0;
  let unknowns = 0;
  let staleReads = 0;
  // Stale reads are only known live when the sampler measures them (the checker judges after the
  // run): never print a reassuring "0" that nobody measured.
  let staleKnown = false;
  let lastDraw = -Infinity;
  let drawn = false;
  // After done(), late log lines (cleanup) print plainly: the progress line stays gone.
  let finished = false;
  let text = '';

  const plannedTotal = (): number | undefined => (plan.length ? plan.reduce((n, p) => n + p.ms, 0) : opts.totalMs);

  /** Remaining = the rest of this phase's plan + all later phases; falls back to total - elapsed. */
  const remainingMs = (now: number): number | undefined => {
    const elapsed = now - startedAt;
    const idx = plan.findIndex((p) => p.name === phaseName);
    if (idx >= 0) {
      const inPhase = now - phaseStartedAt;
      const rest = plan.slice(idx + 1).reduce((n, p) => n + p.ms, 0);
      return Math.max(0, plan[idx].ms - inPhase) + rest;
    }
    const total = plannedTotal();
    return total === undefined ? undefined : Math.max(0, total - elapsed);
  };

  const phaseBar = (full: boolean): string => {
    if (!plan.length) return phaseName ? BOLD(String(phaseName), color) : '';
    if (!full) {
      // Narrow terminal: the current phase and where it sits in the plan.
      const idx = plan.findIndex((p) => p.name === phaseName);
      return idx < 0 ? '' : `${BOLD(String(phaseName), color)} ${DIM(`${idx + 1}/${plan.length}`, color)}`;
    }
    const idx = plan.findIndex((p) => p.name === phaseName);
    return plan
      .map((p, i) => (i === idx ? BOLD(`[${p.name}]`, color) : i < idx ? DIM(p.name, color) : p.name))
      .join(DIM(' › ', color));
  };

  const compose = (now: number, fullPhases = true): string => {
    const elapsed = now - startedAt;
    const remaining = remainingMs(now);
    const parts = [
      ...(label ? [BOLD(label, color)] : []),
      phaseBar(fullPhases),
      `${formatClock(elapsed)}${remaining === undefined ? '' : `/-${formatClock(remaining)}`}`,
      `${compact(opsPerSec)} ops/s`,
      `errors ${errors ? RED(compact(errors), color) : '0'}`,
      // Unknown outcomes are rare and alarming: shown once there is one.
      unknowns ? `unknown ${compact(unknowns)}` : '',
      staleKnown ? `stale reads ${staleReads ? RED(compact(staleReads), color) : '0'}` : '',
    ].filter(Boolean);
    return parts.join(DIM(' · ', color));
  };

  const draw = (force = false): void => {
    const now = clock.monotonic();
    // A pty without a size reports 0 columns: assume a classic terminal width.
    const width = Math.max(20, (stream.columns || 100) - 1);
    let full = compose(now);
    if (full.replace(ANSI, '').length > width) full = compose(now, false);
    full = truncateVisible(full, width);
    text = full.replace(ANSI, '');
    if (!active || finished) return;
    if (!force && now - lastDraw < minRedrawMs) return;
    lastDraw = now;
    stream.write(`\r\x1b[2K${full}`);
    drawn = true;
  };

  const clearLine = (): void => {
    if (active && drawn) stream.write('\r\x1b[2K');
    drawn = false;
  };

  const reporter: ProgressReporter = {
    active,
    get line() {
      return text;
    },
    phase: (name) => {
      phaseName = name;
      phaseStartedAt = clock.monotonic();
      draw(true);
    },
    second: (sample) => {
      opsPerSec = sample.ops;
      errors += sample.errors ?? sample.fails ?? 0;
      unknowns += sample.unknowns ?? 0;
      if (sample.staleReads !== undefined) staleKnown = true;
      staleReads += sample.staleReads ?? 0;
      draw();
    },
    event: (message) => {
      if (!active) return;
      clearLine();
      const now = clock.monotonic();
      stream.write(`${DIM(formatClock(now - startedAt), color)} ${message}\n`);
      draw(true);
    },
    startRun: (nextLabel, nextPlan) => {
      clearLine();
      finished = false;
      label = nextLabel;
      if (nextPlan) plan = nextPlan;
      startedAt = clock.monotonic();
      phaseStartedAt = startedAt;
      phaseName = '';
      opsPerSec = errors = unknowns = staleReads = 0;
      draw(true);
    },
    done: () => {
      clearLine();
      finished = true;
    },
  };
  return reporter;
}
