/**
 * Entry point of one worker process of a multi-worker `cachectl proxy` (forked by cluster.ts).
 * It accepts clients on the shared port with its own engine and backend connections; the config
 * comes from the primary (apply), stats go to the primary, auto failover is asked of the primary.
 * This is a process entry point (like bin/), so it may exit.
 */
import { isCachectlError } from '../errors.js';
import { WORKER_INIT_ENV, type PrimaryToWorker, type WorkerInit, type WorkerToPrimary } from './cluster-messages.js';
import { tuneGcForProxy } from './gc-tuning.js';
import { startProxy, type RunningProxy } from './server.js';

const init = JSON.parse(process.env[WORKER_INIT_ENV] ?? 'null') as WorkerInit | null;
if (!init || typeof process.send !== 'function') {
  process.stderr.write('cluster-worker: started without its init (it is forked by `cachectl proxy --workers N`)\n');
  process.exit(2);
}
const { index } = init;
const send = (m: WorkerToPrimary): void => {
  if (process.connected) process.send!(m);
};

/** invalidations other workers owe: id -> the worker indexes owing it */
const owedElsewhere = new Map<string, Set<number>>();
function setOwed(from: number, op: '+' | '-', id: string): void {
  let who = owedElsewhere.get(id);
  if (op === '+') {
    if (!who) owedElsewhere.set(id, (who = new Set()));
    who.add(from);
  } else if (who) {
    who.delete(from);
    if (who.size === 0) owedElsewhere.delete(id);
  }
}
const barriers = new Map<number, () => void>();
let nextBarrier = 1;

let proxy: RunningProxy | undefined;
let stopping = false;
function stop(drainMs: number): void {
  if (stopping) return;
  stopping = true;
  const done = (): never => process.exit();
  if (!proxy) done();
  void proxy!.stop(drainMs).then(done, done);
}

process.on('message', (m: PrimaryToWorker) => {
  if (m.t === 'stop') return stop(m.drainMs);
  // owed invalidations are taken in even before the engine exists (they arrive before clients)
  if (m.t === 'owed-init') {
    for (const [from, id] of m.entries) setOwed(from, '+', id);
    return;
  }
  if (m.t === 'owed') return setOwed(m.from, m.op, m.id);
  if (m.t === 'owed-reset') {
    for (const [id] of owedElsewhere) setOwed(m.from, '-', id);
    for (const id of m.ids) setOwed(m.from, '+', id);
    return;
  }
  if (m.t === 'owed-barrier') return send({ t: 'owed-barrier-ack', index, id: m.id });
  if (m.t === 'owed-barrier-done') {
    const done = barriers.get(m.id);
    barriers.delete(m.id);
    return done?.();
  }
  if (!proxy) return;
  if (m.t === 'apply') {
    const engine = proxy.engine;
    // a worker forked during the change already started with this config
    if (engine.config.epoch >= m.config.epoch) {
      const ok = engine.config.epoch === m.config.epoch;
      return send({ t: 'applied', id: m.id, index, epoch: engine.config.epoch, ok });
    }
    try {
      engine.update(m.config);
      send({ t: 'applied', id: m.id, index, epoch: engine.config.epoch, ok: true });
    } catch (err) {
      send({ t: 'applied', id: m.id, index, epoch: engine.config.epoch, ok: false, message: (err as Error).message });
    }
    return;
  }
  if (m.t === 'stats') send({ t: 'stats', id: m.id, index, view: proxy.engine.statsView(proxy.connections()) });
});
// Ctrl-C reaches the whole process group: drain like the primary asks; the primary's channel
// going away means nobody owns the config any more: drain and go too.
const drainMs = Math.max(1000, init.options.config.timeoutMs * 2);
process.on('SIGTERM', () => stop(drainMs));
process.on('SIGINT', () => stop(drainMs));
process.on('disconnect', () => stop(drainMs));

// hello -> owed-init: ahead of our listen request on the same channel, so before any client
send({ t: 'hello', index });
try {
  tuneGcForProxy();
  proxy = await startProxy(
    { ...init.options, adminToken: '' },
    {
      requestPromotion: (shard, epoch) => send({ t: 'promote', index, shard, epoch }),
      owedElsewhere,
      afterOwed: (done) => {
        if (!process.connected) return done();
        const id = nextBarrier++;
        barriers.set(id, done);
        send({ t: 'owed-barrier', index, id });
      },
    },
  );
  const pending = proxy.engine.pending;
  pending.onChange = (op, id) => send({ t: 'owed', index, op, id });
  // what this worker's log still owes from before a restart
  send({ t: 'ready', index, port: proxy.port, epoch: proxy.engine.config.epoch, owed: pending.ids() });
} catch (err) {
  const e = isCachectlError(err) ? err : undefined;
  send({ t: 'failed', index, code: e?.code ?? 'INTERNAL', message: (err as Error).message, hint: e?.hint });
  process.exitCode = 1;
  process.disconnect();
}
