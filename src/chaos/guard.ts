import { CachectlError } from '../errors.js';
import type { AppliedFault, FaultInjector, FaultSpec } from './faults.js';
import type { TimelineRecorder } from './timeline.js';

/**
 * Guaranteed revert. Every fault applied through the guard, and every cleanup registered with
 * `defer`, is undone in reverse order when the scenario ends, throws, or is interrupted
 * (SIGINT/SIGTERM). A fault whose apply completes after the guard closed is reverted at once.
 */

export class InterruptedError extends CachectlError {
  constructor(signal: string) {
    super('USAGE', `interrupted by ${signal}`, { hint: 'faults were reverted; run `cachectl chaos reset` if anything looks left behind' });
    this.name = 'InterruptedError';
  }
}

interface UndoEntry {
  id: string;
  description: string;
  isFault: boolean;
  undo: () => Promise<void>;
}

export interface RevertOutcome {
  reverted: string[];
  failed: Array<{ id: string; description: string; error: string }>;
}

export interface FaultGuardOptions {
  timeline?: TimelineRecorder;
  /** progress/warning lines (stderr) */
  log?: (line: string) => void;
}

export class FaultGuard {
  private readonly stack: UndoEntry[] = [];
  private closing: Promise<RevertOutcome> | null = null;
  private deferCounter = 0;

  constructor(
    private readonly injector: FaultInjector,
    private readonly options: FaultGuardOptions = {},
  ) {}

  /** Record fault events on this timeline from now on (each run of a scenario has its own). */
  useTimeline(timeline: TimelineRecorder): void {
    this.options.timeline = timeline;
  }

  get closed(): boolean {
    return this.closing !== null;
  }

  /** faults applied and not yet reverted */
  activeFaults(): string[] {
    return this.stack.filter((e) => e.isFault).map((e) => e.description);
  }

  async apply(spec: FaultSpec): Promise<AppliedFault> {
    if (this.closed) throw new CachectlError('INTERNAL', 'fault guard already closed: the scenario is ending');
    const applied = await this.injector.apply(spec);
    if (this.closed) {
      // Interrupted while the apply was in flight: undo it now, nobody else will.
      await this.injector.revert(applied).catch((err: unknown) => this.options.log?.(`could not revert ${applied.description}: ${(err as Error).message}`));
      throw new CachectlError('INTERNAL', 'scenario interrupted while applying a fault (reverted)');
    }
    this.stack.push({ id: applied.id, description: applied.description, isFault: true, undo: () => this.injector.revert(applied) });
    this.options.timeline?.event('fault-apply', applied.description, applied.id, { spec: spec as unknown as Record<string, unknown> });
    return applied;
  }

  /** Revert one fault now (the heal phase). Throws if the revert fails; the entry stays for revertAll to retry. */
  async revert(applied: AppliedFault): Promise<void> {
    const idx = this.stack.findIndex((e) => e.id === applied.id);
    if (idx < 0) return;
    await this.stack[idx].undo();
    this.stack.splice(idx, 1);
    this.options.timeline?.event('fault-revert', `reverted: ${applied.description}`, applied.id);
  }

  /** Register any other cleanup (restore a proxy config, remove a chaos link, stop a cluster). */
  defer(description: string, undo: () => Promise<void>): () => Promise<void> {
    const id = `cleanup-${++this.deferCounter}`;
    this.stack.push({ id, description, isFault: false, undo });
    // Calling the returned function runs the cleanup early (and only once).
    return async () => {
      const idx = this.stack.findIndex((e) => e.id === id);
      if (idx < 0) return;
      this.stack.splice(idx, 1);
      await undo();
    };
  }

  /** Undo everything, newest first; each step is tried twice; failures are collected, not thrown. Idempotent. */
  revertAll(): Promise<RevertOutcome> {
    if (!this.closing) this.closing = this.doRevertAll();
    return this.closing;
  }

  private async doRevertAll(): Promise<RevertOutcome> {
    const outcome: RevertOutcome = { reverted: [], failed: [] };
    while (this.stack.length > 0) {
      const entry = this.stack.pop()!;
      let lastError: unknown;
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          await entry.undo();
          lastError = undefined;
          break;
        } catch (err) {
          lastError = err;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      if (lastError === undefined) {
        outcome.reverted.push(entry.description);
        if (entry.isFault) this.options.timeline?.event('fault-revert', `reverted: ${entry.description}`, entry.id);
      } else {
        const error = (lastError as Error).message ?? String(lastError);
        outcome.failed.push({ id: entry.id, description: entry.description, error });
        this.options.timeline?.event('fault-revert-failed', `could not revert ${entry.description}: ${error}`, entry.id);
        this.options.log?.(`could not revert ${entry.description}: ${error}`);
      }
    }
    return outcome;
  }
}

export interface WithGuardOptions extends FaultGuardOptions {
  /** install SIGINT/SIGTERM handlers that revert then exit 130 (the CLI does; tests may not) */
  handleSignals?: boolean;
  /** how to end the process after an interrupt (swapped in tests) */
  exit?: (code: number) => void;
}

/**
 * Run `body` with a guard; revert everything afterwards whatever happens. If a revert fails,
 * that becomes the error (a fault left behind is worse than a failed scenario).
 */
export async function withFaultGuard<T>(
  injector: FaultInjector,
  body: (guard: FaultGuard, signal: AbortSignal) => Promise<T>,
  options: WithGuardOptions = {},
): Promise<T> {
  const guard = new FaultGuard(injector, options);
  const controller = new AbortController();
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupts++;
    if (interrupts > 1) {
      options.log?.('second interrupt: exiting now; faults may be left behind, run `cachectl chaos reset`');
      exit(130);
      return;
    }
    options.log?.(`${signal} received: reverting ${guard.activeFaults().length} fault(s) and cleaning up (Ctrl-C again to force)`);
    options.timeline?.event('interrupted', `interrupted by ${signal}`);
    controller.abort(new InterruptedError(signal));
    void guard.revertAll().then(
      (outcome) => {
        for (const f of outcome.failed) options.log?.(`left behind: ${f.description} (${f.error}); run \`cachectl chaos reset\``);
        exit(130);
      },
      () => exit(130),
    );
  };
  if (options.handleSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  try {
    let result: T;
    try {
      result = await body(guard, controller.signal);
    } catch (err) {
      await guard.revertAll();
      throw err;
    }
    const outcome = await guard.revertAll();
    if (outcome.failed.length > 0) {
      throw new CachectlError('DEPENDENCY_FAILED', `could not revert: ${outcome.failed.map((f) => `${f.description} (${f.error})`).join('; ')}`, {
        hint: 'run `cachectl chaos reset` to clear every toxic, enable every link and restart killed nodes',
        details: { failed: outcome.failed },
      });
    }
    return result;
  } finally {
    if (options.handleSignals) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
}
