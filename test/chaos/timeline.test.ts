import { describe, expect, it } from 'vitest';
import { TimelineRecorder } from '../../src/chaos/timeline.js';
import type { Clock } from '../../src/util/clock.js';

function fakeClock(): Clock & { advance(ms: number): void } {
  let t = 1000;
  return { now: () => 1_700_000_000_000 + t, monotonic: () => t, sleep: async () => undefined, advance: (ms) => void (t += ms) };
}

describe('TimelineRecorder', () => {
  it('records phases back to back and events relative to the start', () => {
    const clock = fakeClock();
    const seen: string[] = [];
    const tl = new TimelineRecorder(clock, (e) => seen.push(`${e.atMs}:${e.kind}`));
    tl.startPhase('warm-up', 3000);
    clock.advance(3000);
    tl.startPhase('fault', 8000);
    tl.event('fault-apply', 'link master down', 'f1');
    clock.advance(8100);
    tl.startPhase('heal', 2000);
    tl.event('fault-revert', 'reverted', 'f1');
    clock.advance(500);
    const snap = tl.snapshot();
    expect(snap.phases).toEqual([
      { name: 'warm-up', startMs: 0, endMs: 3000, plannedMs: 3000 },
      { name: 'fault', startMs: 3000, endMs: 11100, plannedMs: 8000 },
      // the open phase ends "now" in a snapshot
      { name: 'heal', startMs: 11100, endMs: 11600, plannedMs: 2000 },
    ]);
    expect(seen).toEqual(['3000:fault-apply', '11100:fault-revert']);
    expect(snap.events[0]).toMatchObject({ subject: 'f1', message: 'link master down' });
    expect(snap.startedAt).toBe(new Date(1_700_000_001_000).toISOString());
    expect(tl.phaseAt(2999)).toBe('warm-up');
    expect(tl.phaseAt(3000)).toBe('fault');
    expect(tl.phaseAt(50_000)).toBe('heal');
    tl.endPhase();
    expect(tl.phaseAt(50_000)).toBeNull();
  });
});
