import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CachectlError } from '../../src/errors.js';
import { parseDurationMs } from '../../src/workload/cli.js';
import { SqliteSourceOfTruth } from '../../src/workload/database.js';
import { historyFromJsonLines, historyToJsonLines, readHistoryFile, writeHistoryFile, type HistoryOp } from '../../src/workload/history.js';
import { createRng, deriveSeed, uniformPicker, zipfianPicker } from '../../src/workload/random.js';
import { runWorkload, type WorkloadOptions } from '../../src/workload/runner.js';
import { decodeValue, encodeValue } from '../../src/workload/value.js';
import { FakeCacheStore } from '../checker/fake-cache.js';

const dir = mkdtempSync(join(tmpdir(), 'cachectl-wl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('values encode the key and version', () => {
  it('round-trips at the requested size and rejects foreign or garbled values', () => {
    const v = encodeValue('user:1', 42, 100);
    expect(v.length).toBe(100);
    expect(decodeValue('user:1', v)).toEqual({ ok: true, version: 42 });
    expect(decodeValue('user:2', v)).toMatchObject({ ok: false, reason: expect.stringContaining('user:1') });
    expect(decodeValue('user:1', Buffer.from('hello'))).toMatchObject({ ok: false });
    expect(decodeValue('user:1', Buffer.from('{"k":"user:1","v":-1}'))).toMatchObject({ ok: false });
    // smaller than the envelope: still decodable
    expect(decodeValue('k', encodeValue('k', 7, 1))).toEqual({ ok: true, version: 7 });
  });
});

describe('seeded randomness', () => {
  it('the same seed gives the same sequence; clients get different streams', () => {
    const a = createRng(5);
    const b = createRng(5);
    const seqA = Array.from({ length: 5 }, a);
    expect(Array.from({ length: 5 }, b)).toEqual(seqA);
    expect(createRng(deriveSeed(5, 0))()).not.toBe(createRng(deriveSeed(5, 1))());
    expect(seqA.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it('zipfian favours low indices and stays in range; uniform spreads evenly', () => {
    const rng = createRng(1);
    const zipf = zipfianPicker(1000);
    const counts = new Array(1000).fill(0);
    for (let i = 0; i < 100_000; i++) counts[zipf(rng)]++;
    expect(counts[0]).toBeGreaterThan(counts[10] * 5);
    expect(counts[0] / 100_000).toBeGreaterThan(0.08);
    expect(counts.reduce((s, c) => s + c, 0)).toBe(100_000);
    const uni = uniformPicker(10);
    const u = new Array(10).fill(0);
    for (let i = 0; i < 100_000; i++) u[uni(rng)]++;
    expect(Math.min(...u)).toBeGreaterThan(9000);
    expect(zipfianPicker(1)(rng)).toBe(0);
  });
});

describe('SQLite source of truth', () => {
  it('commits version+1 with a commit time and persists in a file', () => {
    const path = join(dir, 'truth.db');
    let t = 1000;
    const db = new SqliteSourceOfTruth(path, () => t);
    expect(db.read('a')).toEqual({ version: 0, committedAtMs: 0 });
    expect(db.commitNext('a')).toEqual({ version: 1, committedAtMs: 1000 });
    t = 2000;
    expect(db.commitNext('a')).toEqual({ version: 2, committedAtMs: 2000 });
    db.commitNext('b');
    expect(db.counters).toEqual({ reads: 1, commits: 3 });
    db.close();
    const again = new SqliteSourceOfTruth(path);
    expect(again.read('a').version).toBe(2);
    expect(again.keys()).toEqual(['a', 'b']);
    expect(again.keys('b')).toEqual(['b']);
    expect([...again.readMany(['a', 'zz']).entries()].map(([k, v]) => [k, v.version])).toEqual([['a', 2], ['zz', 0]]);
    again.close();
  });

  it('an unopenable path is a usage error that says what to do', () => {
    expect(() => new SqliteSourceOfTruth(join(dir, 'no/such/dir/x.db'))).toThrow(/cannot open the database/);
  });
});

describe('history JSON lines', () => {
  const ops: HistoryOp[] = [
    { id: 1, client: 0, op: 'update', key: 'k', invoke: 0.5, complete: 2.25, outcome: 'ok', version: 1, commitAt: 1, cacheResult: 'stored' },
    { id: 2, client: 0, op: 'cas', key: 'k', invoke: 1.5, complete: 2, outcome: 'ok', version: 1, token: '18446744073709551615', baseVersion: 0, reply: 'stored', parent: 1 },
  ];
  it('round-trips through a file, keeping 64-bit tokens exact', async () => {
    const path = join(dir, 'h.jsonl');
    await writeHistoryFile(path, ops, { seed: 3 });
    const back = await readHistoryFile(path);
    expect(back.ops).toEqual(ops);
    expect(back.meta).toEqual({ seed: 3 });
    expect(readFileSync(path, 'utf8').split('\n').filter(Boolean)).toHaveLength(3);
    expect(historyFromJsonLines(historyToJsonLines(ops)).ops).toEqual(ops);
  });

  it('a bad line names its line number', async () => {
    const path = join(dir, 'bad.jsonl');
    writeFileSync(path, `${JSON.stringify({ meta: {} })}\n${JSON.stringify(ops[0])}\n{"id":3,"op":"bogus"}\n`);
    await expect(readHistoryFile(path)).rejects.toThrow(/bad\.jsonl:3/);
    await expect(readHistoryFile(join(dir, 'missing.jsonl'))).rejects.toThrow(/cannot read history/);
    expect(() => historyFromJsonLines('not json\n')).toThrow(/line 1 is not JSON/);
    const backwards = { ...ops[0], invoke: 5, complete: 1 };
    expect(() => historyFromJsonLines(JSON.stringify(backwards))).toThrow(/invoke <= complete/);
  });
});

describe('durations', () => {
  it.each([
    ['10s', 10_000],
    ['500ms', 500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['3', 3000],
    ['1.5s', 1500],
  ])('%s = %i ms', (text, ms) => expect(parseDurationMs(text)).toBe(ms));
  it('rejects nonsense with a usage error', () => {
    expect(() => parseDurationMs('ten seconds')).toThrow(CachectlError);
    expect(() => parseDurationMs('0s')).toThrow(/too short/);
  });
});

describe('runWorkload input checks and bounds', () => {
  const store = new FakeCacheStore(1);
  const valid: WorkloadOptions = {
    proxy: [{ host: 'fake', port: 1 }],
    clients: 2,
    ops: 50,
    keys: 10,
    distribution: 'uniform',
    readRatio: 0.5,
    valueSize: 32,
    seed: 1,
    mitigation: 'none',
    shortTtlSeconds: 5,
    timeoutMs: 100,
    clientFactory: () => store.client(),
  };
  it.each<[string, Partial<WorkloadOptions>, RegExp]>([
    ['no endpoint', { proxy: [] }, /at least one endpoint/],
    ['zero clients', { clients: 0 }, /clients must be/],
    ['no limit', { ops: undefined, durationMs: undefined }, /duration or an op count/],
    ['ratio > 1', { readRatio: 1.5 }, /read ratio/],
    ['bad distribution', { distribution: 'pareto' as never }, /unknown distribution/],
    ['short-ttl without slave', { mitigation: 'client-short-ttl' }, /no slave endpoint/],
    ['negative seed', { seed: -1 }, /seed must be/],
    ['huge value', { valueSize: 2 * 1024 * 1024 }, /value size/],
  ])('%s is a usage error', async (_name, patch, message) => {
    const err = await runWorkload({ ...valid, ...patch }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CachectlError);
    expect((err as CachectlError).code).toBe('USAGE');
    expect((err as CachectlError).message).toMatch(message);
    expect((err as CachectlError).hint).toBeTruthy();
  });

  it('an op-limited run does exactly that many logical ops; the same seed picks the same keys', async () => {
    const run = () => runWorkload({ ...valid, clients: 1, keyPrefix: 'p:' });
    const [a, b] = [await run(), await run()];
    expect(a.counts.ops).toBe(50);
    expect(a.stoppedBy).toBe('ops');
    const logical = (r: typeof a): string[] => r.history.ops.filter((o) => o.op === 'read' || o.op === 'update').map((o) => `${o.op}:${o.key}`);
    expect(logical(a)).toEqual(logical(b));
  });

  it('a client that answers instantly cannot starve the clock: a 200 ms run ends on time, bounded by the op cap', async () => {
    const instant = store.client();
    const fast = { ...instant, get: async () => null, gets: async () => null, add: async () => 'stored' as const, cas: async () => 'stored' as const };
    const started = Date.now();
    const result = await runWorkload({ ...valid, ops: undefined, durationMs: 200, clientFactory: () => fast });
    expect(result.stoppedBy).toBe('duration');
    expect(result.counts.ops).toBeGreaterThan(0);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('--rate throttles the whole run to about that many ops per second', async () => {
    const result = await runWorkload({ ...valid, ops: undefined, durationMs: 1000, clients: 4, opsPerSecond: 200 });
    expect(result.stoppedBy).toBe('duration');
    // unthrottled, this fake answers thousands of ops per second; a loaded machine may do fewer than 200
    expect(result.counts.ops).toBeGreaterThan(100);
    expect(result.counts.ops).toBeLessThan(250);
  });

  it('an aborted signal before the start runs nothing', async () => {
    const controller = new AbortController();
    controller.abort();
    const result = await runWorkload({ ...valid, signal: controller.signal });
    expect(result.stoppedBy).toBe('abort');
    expect(result.counts.ops).toBe(0);
  });
});
