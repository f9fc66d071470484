import { describe, expect, it } from 'vitest';
import { createProgress, formatClock, truncateVisible, type ProgressStream } from '../../src/report/progress.js';
import type { Clock } from '../../src/util/clock.js';

function fakeClock(): Clock & { advance(ms: number): void } {
  let t = 0;
  return { now: () => 1_700_000_000_000 + t, monotonic: () => t, sleep: async () => undefined, advance: (ms) => (t += ms) };
}

function stream(isTTY: boolean, columns = 200): ProgressStream & { out: string } {
  const s = { out: '', isTTY, columns, write: (chunk: string) => ((s.out += chunk), true) };
  return s;
}

const PLAN = [
  { name: 'warm-up', ms: 5000 },
  { name: 'fault', ms: 10_000 },
  { name: 'heal', ms: 2000 },
  { name: 'settle', ms: 5000 },
  { name: 'verify', ms: 1000 },
];

describe('live progress', () => {
  it('on a terminal: redraws one line in place with phase, elapsed/remaining, ops/s, errors, stale reads', () => {
    const clock = fakeClock();
    const s = stream(true);
    const p = createProgress({ stream: s, clock, plan: PLAN, minRedrawMs: 0, color: false });
    expect(p.active).toBe(true);
    p.phase('warm-up');
    clock.advance(5000);
    p.phase('fault');
    clock.advance(3000);
    p.second({ ops: 4812, errors: 120, unknowns: 3, staleReads: 57 });
    p.second({ ops: 4000, errors: 10, staleReads: 3 });
    expect(p.line).toContain('[fault]');
    expect(p.line).toContain('0:08/-0:15'); // 8 s in; 7 s of fault + heal 2 + settle 5 + verify 1 left
    expect(p.line).toContain('4,000 ops/s');
    expect(p.line).toContain('errors 130');
    expect(p.line).toContain('unknown 3');
    expect(p.line).toContain('stale reads 60');
    // Every draw starts with carriage return + erase line, and never a newline.
    expect(s.out.split('\r\x1b[2K').length).toBeGreaterThan(3);
    expect(s.out).not.toContain('\n');
    p.done();
    expect(s.out.endsWith('\r\x1b[2K')).toBe(true);
    // A log line after done() (cleanup) prints plainly and does not bring the line back.
    p.event('removing the ephemeral cluster');
    expect(s.out.endsWith('removing the ephemeral cluster\n')).toBe(true);
  });

  it('is quiet when stderr is not a terminal, and with --json (enabled: false)', () => {
    const pipe = stream(false);
    const p = createProgress({ stream: pipe, plan: PLAN });
    p.phase('fault');
    p.second({ ops: 10, staleReads: 1 });
    p.event('master killed');
    p.done();
    expect(pipe.out).toBe('');
    const tty = stream(true);
    const q = createProgress({ stream: tty, enabled: false });
    q.phase('fault');
    q.second({ ops: 10 });
    q.done();
    expect(tty.out).toBe('');
  });

  it('prints events above the line and resets the counters for the next mitigation run', () => {
    const clock = fakeClock();
    const s = stream(true);
    const p = createProgress({ stream: s, clock, plan: PLAN, minRedrawMs: 0, color: false, label: 'none' });
    p.phase('fault');
    p.second({ ops: 100, staleReads: 5 });
    clock.advance(1500);
    p.event('master link disabled');
    expect(s.out).toContain('0:02 master link disabled\n');
    p.startRun('proxy-delete');
    expect(p.line).toContain('proxy-delete');
    expect(p.line).toContain('stale reads 0');
  });

  it("takes the workload runner's per-second stats as they are (fails = errors)", () => {
    const p = createProgress({ stream: stream(true), minRedrawMs: 0, color: false, totalMs: 60_000 });
    p.second({ ops: 900, fails: 4, unknowns: 1 });
    p.second({ ops: 950, fails: 1, unknowns: 0 });
    expect(p.line).toContain('950 ops/s');
    expect(p.line).toContain('errors 5');
    expect(p.line).toContain('unknown 1');
    expect(p.line).toMatch(/0:00\/-1:00/);
    // The workload runner does not measure stale reads live: no made-up "stale reads 0".
    expect(p.line).not.toContain('stale reads');
  });

  it('never wraps: the line is cut to the terminal width, colour codes not counted', () => {
    expect(truncateVisible('\x1b[1mabcdef\x1b[22m', 4)).toBe('\x1b[1mabc…\x1b[0m');
    expect(truncateVisible('abc', 10)).toBe('abc');
    const s = stream(true, 40);
    const p = createProgress({ stream: s, plan: PLAN, minRedrawMs: 0, color: false });
    p.second({ ops: 123456 });
    const last = s.out.split('\r\x1b[2K').pop()!;
    expect(last.length).toBeLessThanOrEqual(39);
    expect(formatClock(83_400)).toBe('1:23');
    // On an 80-column terminal the phase list shrinks to "fault 2/5" so the numbers still fit.
    const narrow = stream(true, 80);
    const q = createProgress({ stream: narrow, plan: PLAN, minRedrawMs: 0, color: false, label: 'proxy-delete' });
    q.phase('fault');
    q.second({ ops: 1999, errors: 12, staleReads: 3 });
    expect(q.line).toContain('fault 2/5');
    expect(q.line).toContain('stale reads 3');
    expect(q.line.length).toBeLessThanOrEqual(79);
  });
});
