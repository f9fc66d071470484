import { spawnSync } from 'node:child_process';
import { createConnection, createServer, Socket, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { adoptAccepted, connectWithReads } from '../../src/proxy/socket-reads.js';
import { PROXY_GC_FLAGS } from '../../src/proxy/gc-tuning.js';
import { waitUntil } from '../../src/util/net.js';

/** The proxy's read path (one shared read buffer, chunks copied out) on real loopback sockets. */

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function listen(onSocket: (s: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer({ pauseOnConnect: true }, onSocket);
  cleanups.push(() => server.close());
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port })));
}

function connect(port: number): Promise<Socket> {
  const s = createConnection({ host: '127.0.0.1', port });
  cleanups.push(() => s.destroy());
  return new Promise((resolve) => s.once('connect', () => resolve(s)));
}

/** a server whose accepted sockets are adopted and collect what they read */
async function collectingServer(): Promise<{ port: number; chunks: Buffer[]; adopted: () => Socket | undefined }> {
  const chunks: Buffer[] = [];
  let adopted: Socket | undefined;
  const { port } = await listen((accepted) => {
    adopted = adoptAccepted(accepted, (chunk) => chunks.push(chunk));
    cleanups.push(() => adopted?.destroy());
  });
  return { port, chunks, adopted: () => adopted };
}

const until = (what: string, ok: () => boolean): Promise<void> => waitUntil(what, async () => ok(), { timeoutMs: 3000, intervalMs: 5 });

describe('adoptAccepted', () => {
  it('delivers every byte in order, and a chunk kept past its callback is not overwritten by later reads', async () => {
    const { port, chunks } = await collectingServer();
    const client = await connect(port);
    const sent: Buffer[] = [];
    for (let i = 0; i < 50; i++) {
      // small and large chunks alternate
      const part = Buffer.alloc(i % 2 ? 1000 + i * 37 : 1 + i, i + 1);
      sent.push(part);
      client.write(part);
      // let some reads happen separately, so later reads reuse the shared buffer
      if (i % 5 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    const expected = Buffer.concat(sent);
    await until('all bytes', () => chunks.reduce((n, c) => n + c.length, 0) >= expected.length);
    expect(chunks.length).toBeGreaterThan(1);
    expect(Buffer.concat(chunks).equals(expected)).toBe(true);
  });

  it('writes and closes like any socket: the client gets the reply, and a client that leaves closes the adopted socket', async () => {
    let adopted: Socket | undefined;
    let closed = false;
    const { server, port } = await listen((accepted) => {
      const s = adoptAccepted(accepted, (chunk) => s.write(Buffer.concat([Buffer.from('echo:'), chunk])));
      s.on('close', () => (closed = true));
      adopted = s;
      cleanups.push(() => s.destroy());
    });
    const client = await connect(port);
    const reply = new Promise<string>((resolve) => client.once('data', (d) => resolve(String(d))));
    client.write('ping');
    expect(await reply).toBe('echo:ping');
    // the server does not count adopted sockets: the caller bounds them
    expect(await new Promise<number>((r) => server.getConnections((_e, n) => r(n)))).toBe(0);
    client.end();
    await until('adopted socket closed', () => closed);
    expect(adopted?.destroyed).toBe(true);
  });

  it('pause() stops delivery and resume() brings it back (the reply queue relies on this for back-pressure)', async () => {
    const { port, chunks, adopted } = await collectingServer();
    const client = await connect(port);
    client.write('a');
    await until('first chunk', () => chunks.length === 1);
    adopted()!.pause();
    client.write('b');
    await new Promise((r) => setTimeout(r, 100));
    expect(chunks.length).toBe(1);
    adopted()!.resume();
    await until('second chunk after resume', () => chunks.length === 2);
    expect(String(chunks[1])).toBe('b');
  });

  it('falls back to a data listener when the accepted socket has no handle it can move', async () => {
    // a socket that was never connected has no handle to move (stands in for another Node layout)
    const fake = new Socket();
    cleanups.push(() => fake.destroy());
    const chunks: Buffer[] = [];
    const same = adoptAccepted(fake, (c) => chunks.push(c));
    expect(same).toBe(fake);
    fake.emit('data', Buffer.from('x'));
    expect(chunks.map(String)).toEqual(['x']);
  });
});

describe('connectWithReads', () => {
  it('a backend connection delivers its replies to the handler, in order, as copies', async () => {
    const { port } = await listen((accepted) => {
      accepted.resume();
      for (let i = 0; i < 20; i++) accepted.write(Buffer.alloc(3000, i));
      accepted.end();
      cleanups.push(() => accepted.destroy());
    });
    const chunks: Buffer[] = [];
    const s = connectWithReads({ host: '127.0.0.1', port }, (c) => chunks.push(c));
    cleanups.push(() => s.destroy());
    await new Promise((r) => s.once('close', r));
    const all = Buffer.concat(chunks);
    expect(all.length).toBe(60_000);
    for (let i = 0; i < 20; i++) expect(all.subarray(i * 3000, (i + 1) * 3000).every((x) => x === i)).toBe(true);
  });
});

describe('tuneGcForProxy', () => {
  it('this Node.js knows the V8 flags it sets (an unknown flag would only print an error and change nothing)', () => {
    const code = `require('node:v8').setFlagsFromString(${JSON.stringify(PROXY_GC_FLAGS)})`;
    const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', cwd: join(import.meta.dirname, '..', '..') });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    const bad = spawnSync(process.execPath, ['-e', `require('node:v8').setFlagsFromString('--no-such-v8-flag-for-cachectl=1')`], { encoding: 'utf8' });
    expect(bad.stderr).toMatch(/unrecognized flag/);
  });
});
