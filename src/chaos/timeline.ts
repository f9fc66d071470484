import { systemClock, type Clock } from '../util/clock.js';
import type { PhaseName, PhaseRecord, Timeline, TimelineEvent, TimelineEventKind } from './types.js';

/**
 * Records phases and events in ms relative to the start of a run, on a monotonic clock,
 * so the report can draw them on one axis with the workload's per-second series.
 */
export class TimelineRecorder {
  readonly startedAtWall: number;
  private readonly startMono: number;
  private readonly phases: PhaseRecord[] = [];
  private readonly events: TimelineEvent[] = [];
  private open: PhaseRecord | null = null;

  constructor(
    private readonly clock: Clock = systemClock,
    private readonly onEvent?: (event: TimelineEvent) => void,
  ) {
    this.startedAtWall = clock.now();
    this.startMono = clock.monotonic();
  }

  /** ms since the run started */
  elapsed(): number {
    return Math.round((this.clock.monotonic() - this.startMono) * 10) / 10;
  }

  /** wall-clock ms of a relative time (to line up with history timestamps) */
  wallAt(relMs: number): number {
    return this.startedAtWall + relMs;
  }

  event(kind: TimelineEventKind, message: string, subject?: string, details?: Record<string, unknown>): TimelineEvent {
    const ev: TimelineEvent = { atMs: this.elapsed(), kind, message, ...(subject ? { subject } : {}), ...(details ? { details } : {}) };
    this.events.push(ev);
    this.onEvent?.(ev);
    return ev;
  }

  startPhase(name: PhaseName, plannedMs: number): void {
    this.endPhase();
    const now = this.elapsed();
    this.open = { name, startMs: now, endMs: now, plannedMs };
    this.phases.push(this.open);
  }

  endPhase(): void {
    if (this.open) {
      this.open.endMs = this.elapsed();
      this.open = null;
    }
  }

  /** the phase open at relative time t (ms), if any */
  phaseAt(t: number): PhaseName | null {
    for (const p of this.phases) {
      const end = p === this.open ? Number.POSITIVE_INFINITY : p.endMs;
      if (t >= p.startMs && t < end) return p.name;
    }
    return null;
  }

  snapshot(): Timeline {
    return {
      startedAt: new Date(this.startedAtWall).toISOString(),
      phases: this.phases.map((p) => ({ ...p, endMs: p === this.open ? this.elapsed() : p.endMs })),
      events: this.events.map((e) => ({ ...e })),
    };
  }
}
