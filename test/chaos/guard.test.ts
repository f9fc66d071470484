import { describe, expect, it } from 'vitest';
import type { AppliedFault, FaultInjector, FaultSpec, ResetReport } from '../../src/chaos/faults.js';
import { FaultGuard, InterruptedError, withFaultGuard } from '../../src/chaos/guard.js';
import { TimelineRecorder } from '../../src/chaos/timeline.js';

/** In-memory injector: records what is applied right now (fakes are fine in unit tests). */
class FakeInjector implements FaultInjector {
  active = new Map<string, FaultSpec>();
  log: string[] = [];
  failRevertTimes = 0;
  applyDelayMs = 0;
  private n = 0;
  async apply(spec: FaultSpec): Promise<AppliedFault> {
    if (this.applyDelayMs) await new Promise((r) => setTimeout(r, this.applyDelayMs));
    const id = `f${++this.n}`;
    this.active.set(id, spec);
    this.log.push(`apply ${id}`);
    return { id, spec, description: `${spec.kind} ${id}` };
  }
  async revert(a: AppliedFault): Promise<void> {
    if (this.failRevertTimes > 0) {
      this.failRevertTimes--;
      throw new Error('toxiproxy hiccup');
    }
    this.active.delete(a.id);
    this.log.push(`revert ${a.id}`);
  }
  async resetAll(): Promise<ResetReport> {
    this.active.clear();
    return { toxicsRemoved: [], linksEnabled: [], linksRemoved: [], nodesRestarted: [] };
  }
}

const down: FaultSpec = { kind: 'link-down', link: 'master' };

describe('withFaultGuard: revert always runs', () => {
  it('reverts faults and cleanups newest first when the scenario ends', async () => {
    const inj = new FakeInjector();
    const order: string[] = [];
    await withFaultGuard(inj, async (guard) => {
      await guard.apply(down);
      guard.defer('restore config', async () => void order.push('cleanup'));
      await guard.apply({ kind: 'latency', link: 'slave', latencyMs: 10 });
    });
    expect(inj.active.size).toBe(0);
    expect(inj.log).toEqual(['apply f1', 'apply f2', 'revert f2', 'revert f1']);
    expect(order).toEqual(['cleanup']);
  });

  it('reverts when the scenario throws, and rethrows the scenario error', async () => {
    const inj = new FakeInjector();
    await expect(
      withFaultGuard(inj, async (guard) => {
        await guard.apply(down);
        throw new Error('workload blew up');
      }),
    ).rejects.toThrow('workload blew up');
    expect(inj.active.size).toBe(0);
  });

  it('retries a failing revert once, and reports a revert that keeps failing', async () => {
    const inj = new FakeInjector();
    inj.failRevertTimes = 1;
    await withFaultGuard(inj, async (guard) => void (await guard.apply(down)));
    expect(inj.active.size).toBe(0);

    const stuck = new FakeInjector();
    stuck.failRevertTimes = 5;
    await expect(withFaultGuard(stuck, async (guard) => void (await guard.apply(down)))).rejects.toThrow(/could not revert.*run `cachectl chaos reset`|could not revert/);
  });

  it('a fault reverted early (heal) is not reverted twice', async () => {
    const inj = new FakeInjector();
    const timeline = new TimelineRecorder();
    await withFaultGuard(
      inj,
      async (guard) => {
        const f = await guard.apply(down);
        await guard.revert(f);
      },
      { timeline },
    );
    expect(inj.log).toEqual(['apply f1', 'revert f1']);
    expect(timeline.snapshot().events.map((e) => e.kind)).toEqual(['fault-apply', 'fault-revert']);
  });

  it('on SIGINT aborts the scenario, reverts everything, then exits 130', async () => {
    const inj = new FakeInjector();
    let exitCode: number | undefined;
    const exited = new Promise<void>((resolve) => {
      void withFaultGuard(
        inj,
        async (guard, signal) => {
          await guard.apply(down);
          await guard.apply({ kind: 'timeout', link: 'master', timeoutMs: 0 });
          process.kill(process.pid, 'SIGINT');
          await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
        },
        {
          handleSignals: true,
          exit: (code) => {
            exitCode = code;
            resolve();
          },
        },
      ).catch((err: unknown) => expect(err).toBeInstanceOf(InterruptedError));
    });
    await exited;
    expect(exitCode).toBe(130);
    expect(inj.active.size).toBe(0);
    expect(process.listenerCount('SIGINT')).toBe(0);
  });

  it('a fault whose apply finishes after the interrupt is reverted at once', async () => {
    const inj = new FakeInjector();
    inj.applyDelayMs = 50;
    const guard = new FaultGuard(inj);
    const pending = guard.apply(down);
    await guard.revertAll();
    await expect(pending).rejects.toThrow(/interrupted/);
    expect(inj.active.size).toBe(0);
  });
});
