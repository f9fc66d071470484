import memjs from 'memjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningProxy } from '../../src/proxy/server.js';
import { TestServers, peek, startReferenceAndProxy, type Addr } from './harness.js';

/** memjs (the workload's client) through the proxy sees what it sees against memcached itself. */

interface PerformClient {
  seq: number;
  incrSeq(): void;
  perform(key: string, request: Buffer, seq: number, cb: (err: Error | null, res: { header: { status: number; cas: Buffer }; val: Buffer } | null) => void, retries?: number): void;
}

const servers = new TestServers();
let reference: Addr;
let master: Addr;
let slave: Addr;
let proxy: RunningProxy;

beforeAll(async () => {
  ({ reference, master, slave, proxy } = await startReferenceAndProxy(servers));
});
afterAll(async () => {
  await proxy?.stop(200);
  await servers.stopAll();
});

function request(client: PerformClient, opcode: number, key: string, extras: Buffer, value: Buffer, cas: bigint): Buffer {
  client.incrSeq();
  const k = Buffer.from(key);
  const buf = Buffer.alloc(24 + extras.length + k.length + value.length);
  buf[0] = 0x80;
  buf[1] = opcode;
  buf.writeUInt16BE(k.length, 2);
  buf[4] = extras.length;
  buf.writeUInt32BE(extras.length + k.length + value.length, 8);
  buf.writeUInt32BE(client.seq, 12);
  buf.writeBigUInt64BE(cas, 16);
  extras.copy(buf, 24);
  k.copy(buf, 24 + extras.length);
  value.copy(buf, 24 + extras.length + k.length);
  return buf;
}

function perform(client: PerformClient, buf: Buffer, key: string): Promise<{ status: number; cas: bigint; value: string }> {
  return new Promise((resolve, reject) =>
    client.perform(key, buf, client.seq, (err, res) => (err ? reject(err) : resolve({ status: res!.header.status, cas: res!.header.cas.readBigUInt64BE(0), value: res!.val?.toString() ?? '' })), 0),
  );
}

async function scenario(port: number): Promise<unknown[]> {
  const client = memjs.Client.create(`127.0.0.1:${port}`, { retries: 0, timeout: 2, logger: { log: () => undefined } });
  const raw = client as unknown as PerformClient;
  const out: unknown[] = [];
  try {
    await client.set('m', 'v1', { expires: 0 });
    out.push((await client.get('m')).value?.toString());
    out.push((await client.get('missing')).value);
    out.push(await client.add('m', 'x', {}).catch((e: Error) => e.message));
    out.push(await client.increment('ctr', 5, { initial: 10, expires: 0 }));
    out.push(await client.increment('ctr', 5, {}));
    // gets + cas through perform() with the CAS header field
    const gets = await perform(raw, request(raw, 0x00, 'm', Buffer.alloc(0), Buffer.alloc(0), 0n), 'm');
    out.push({ status: gets.status, value: gets.value, hasCas: gets.cas !== 0n });
    const extras = Buffer.alloc(8);
    const ok = await perform(raw, request(raw, 0x01, 'm', extras, Buffer.from('v2'), gets.cas), 'm');
    out.push({ casStore: ok.status });
    const stale = await perform(raw, request(raw, 0x01, 'm', extras, Buffer.from('v3'), gets.cas), 'm');
    out.push({ staleCas: stale.status });
    out.push((await client.get('m')).value?.toString());
    out.push(await client.delete('m'));
    out.push(await client.delete('m'));
  } finally {
    client.close();
  }
  return out;
}

describe('memjs through the proxy', () => {
  it('get/set/add/incr/delete and gets+cas via perform() match memcached, and the slave follows', async () => {
    const direct = await scenario(reference.port);
    const proxied = await scenario(proxy.port);
    expect(proxied).toEqual(direct);
    expect(direct).toContainEqual({ casStore: 0 });
    expect(direct).toContainEqual({ staleCas: 2 });
    expect(await peek(slave, 'ctr')).toEqual(await peek(master, 'ctr'));
    expect(await peek(slave, 'm')).toBeNull();
  });
});
