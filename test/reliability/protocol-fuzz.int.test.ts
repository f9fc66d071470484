import { appendFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestServers } from '../helpers/servers.js';
import {
  asciiStream,
  binaryStream,
  isSubsequence,
  replyOpaques,
  requestOpaques,
  normaliseAscii,
  normaliseBinary,
  randomBytesStream,
  storableKeys,
  type FuzzInput,
} from './fuzz-generators.js';
import { asciiOnce, pidAlive, rawExchange, splitAt, startChildProxy, type Addr, type ChildProxy } from './helpers.js';

/**
 * Differential protocol fuzzing of a live proxy (the `cachectl proxy` process) in front of real
 * memcached master and slave. Every generated stream goes, split at random offsets, to a reference
 * memcached and to the proxy: the replies must be the same bytes (CAS uniques aside, they are
 * per server), in the same order, and the proxy must close exactly where memcached closes. The
 * proxy must never die, and after each ASCII stream master and slave must hold the same values.
 *
 *   CACHECTL_FUZZ_SEED=<n>  replay a run      CACHECTL_FUZZ_RUNS=<n>  inputs per property (default 100)
 */

const SEED = Number(process.env.CACHECTL_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = Number(process.env.CACHECTL_FUZZ_RUNS ?? 100);
/** CACHECTL_FUZZ_SURVEY=1: collect every mismatch instead of stopping at the first (for triage) */
const SURVEY = process.env.CACHECTL_FUZZ_SURVEY === '1';
const mismatches: string[] = [];

const servers = new TestServers();
let reference: Addr;
let master: Addr;
let slave: Addr;
let proxy: ChildProxy;
let runCounter = 0;
const tried: Record<string, number> = {};

beforeAll(async () => {
  console.log(`[fuzz] seed ${SEED} (replay: CACHECTL_FUZZ_SEED=${SEED}), ${RUNS} inputs per property`);
  [reference, master, slave] = await Promise.all([servers.memcached(), servers.memcached(), servers.memcached()]);
  proxy = await startChildProxy({ master: `127.0.0.1:${master.port}`, slave: `127.0.0.1:${slave.port}`, 'timeout-ms': 2000 });
});

afterAll(async () => {
  console.log(`[fuzz] inputs tried: ${JSON.stringify(tried)}, total ${Object.values(tried).reduce((a, b) => a + b, 0)} (seed ${SEED})`);
  if (SURVEY) console.log(`[fuzz] ${mismatches.length} mismatches\n${mismatches.join('\n')}`);
  await proxy?.kill();
  await servers.stopAll();
});

async function differential(input: FuzzInput, normalise: (b: Buffer) => string): Promise<{ what: string; prefix: string }> {
  tried[input.describe] = (tried[input.describe] ?? 0) + 1;
  const base = `z${SEED.toString(36)}r${++runCounter}`;
  // a mismatch is replayed once on fresh keys with longer quiet windows before it counts, so a
  // loaded machine (a reply later than the idle window) cannot pass for a protocol difference
  let last: { what: string; prefix: string; want: string; have: string; same: boolean; refClosed: boolean; gotClosed: boolean } | undefined;
  for (const [attempt, refIdle] of [[0, 60], [1, 400]] as const) {
    const prefix = `${base}${attempt ? 'b' : ''}:`;
    const bytes = input.render(prefix);
    const chunks = splitAt(
      bytes,
      input.cuts.map((c) => Math.floor(c * bytes.length)),
    );
    if (process.env.CACHECTL_FUZZ_DUMP) appendFileSync(process.env.CACHECTL_FUZZ_DUMP, `${JSON.stringify({ hex: bytes.toString('hex'), cuts: chunks.map((c) => c.length) })}\n`);
    const ref = await rawExchange(reference.port, chunks, { idleMs: refIdle });
    // the proxy is two hops away: wait longer, but stop waiting once it has said as much as memcached
    const got = await rawExchange(proxy.port, chunks, {
      idleMs: 1500,
      maxMs: 6000,
      enough: (reply, closed) => reply.length >= ref.reply.length && (closed || !ref.closed),
    });
    const what = `${input.describe} stream ${JSON.stringify(bytes.toString('latin1'))} split into ${chunks.map((c) => c.length).join('+')} bytes (seed ${SEED})`;
    const want = normalise(ref.reply);
    const have = normalise(got.reply);
    // memcached holds the replies of one read until it has written them, and (a) drops them when it
    // closes the connection (e.g. on an over-long line), (b) keeps them back while it waits for the
    // rest of a data block. The proxy answers each request at once. So: where memcached closed or
    // (ASCII) left the stream waiting, the proxy must say at least what memcached said, in order.
    const same = have === want || (have.startsWith(want) && (ref.closed || input.describe.includes('ascii')));
    last = { what, prefix, want, have, same, refClosed: ref.closed, gotClosed: got.closed };
    expect(pidAlive(proxy.pid), `proxy died on ${what}\n${proxy.stderr()}`).toBe(true);
    if (same && got.closed === ref.closed) break;
  }
  const r = last!;
  if (SURVEY && (!r.same || r.gotClosed !== r.refClosed)) {
    mismatches.push(`${r.what}\n  memcached (${r.refClosed ? 'closed' : 'open'}): ${JSON.stringify(r.want)}\n  proxy     (${r.gotClosed ? 'closed' : 'open'}): ${JSON.stringify(r.have)}`);
  } else {
    if (!r.same) expect(r.have, r.what).toBe(r.want);
    expect(r.gotClosed, `closed where memcached ${r.refClosed ? 'closed' : 'kept the connection'}: ${r.what}`).toBe(r.refClosed);
  }
  return { what: r.what, prefix: r.prefix };
}

function backendErrors(stats: { nodes: { errors: number }[] }): number {
  return stats.nodes.reduce((n, x) => n + x.errors, 0);
}

/** master and slave agree on every key a stream touched (the proxy replicated resulting state). */
async function replicasAgree(prefix: string, what: string): Promise<void> {
  const line = `get ${storableKeys(prefix).join(' ')}\r\n`;
  const [m, s] = await Promise.all([asciiOnce(master.port, line, /END\r\n$/), asciiOnce(slave.port, line, /END\r\n$/)]);
  if (SURVEY && s !== m) mismatches.push(`REPLICA ${what}\n  master: ${JSON.stringify(m)}\n  slave:  ${JSON.stringify(s)}`);
  else expect(s, `slave differs from master after ${what}`).toBe(m);
}

describe('protocol fuzzing (differential against memcached)', () => {
  it('ASCII: valid commands mixed with malformed ones and garbage, split at random offsets', async () => {
    await fc.assert(
      fc.asyncProperty(asciiStream, async (input) => {
        const { what, prefix } = await differential(input, normaliseAscii);
        await replicasAgree(prefix, what);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
  });

  it('binary: every opcode, quiet forms, unknown opcodes, split at random offsets', async () => {
    await fc.assert(
      fc.asyncProperty(binaryStream(false), async (input) => {
        await differential(input, normaliseBinary);
      }),
      { seed: SEED + 1, numRuns: RUNS, endOnFailure: true },
    );
  });

  it('binary with inconsistent headers: no crash, replies in order, never breaks the shared backend connections', async () => {
    await fc.assert(
      fc.asyncProperty(binaryStream(true), async (input) => {
        const prefix = `z${SEED.toString(36)}m${++runCounter}:`;
        const bytes = input.render(prefix);
        const chunks = splitAt(bytes, input.cuts.map((c) => Math.floor(c * bytes.length)));
        tried[input.describe] = (tried[input.describe] ?? 0) + 1;
        const before = backendErrors(await proxy.stats());
        const got = await rawExchange(proxy.port, chunks, { idleMs: 150, maxMs: 6000 });
        const what = `stream ${bytes.toString('hex')} split into ${chunks.map((c) => c.length).join('+')} (seed ${SEED})`;
        const opaques = replyOpaques(got.reply);
        expect(opaques, `reply is not a clean frame sequence: ${got.reply.toString('hex')} for ${what}`).toBeDefined();
        expect(isSubsequence(opaques!, requestOpaques(bytes)), `replies out of request order for ${what}`).toBe(true);
        expect(pidAlive(proxy.pid), `proxy died on ${what}\n${proxy.stderr()}`).toBe(true);
        // a client's bad frame must never reach the master and make it drop the shared connection
        expect(backendErrors(await proxy.stats()), `backend errors caused by ${what}`).toBe(before);
      }),
      { seed: SEED + 3, numRuns: RUNS, endOnFailure: true },
    );
  });

  it('random byte streams in both protocols', async () => {
    await fc.assert(
      fc.asyncProperty(randomBytesStream, async (input) => {
        await differential(input, input.describe === 'random-binary' ? normaliseBinary : normaliseAscii);
      }),
      { seed: SEED + 2, numRuns: Math.ceil(RUNS / 2), endOnFailure: true },
    );
  });

  it('the proxy is still alive and serving after everything', async () => {
    expect(pidAlive(proxy.pid)).toBe(true);
    const reply = await asciiOnce(proxy.port, 'version\r\n');
    expect(reply).toMatch(/^VERSION /);
  });
});
