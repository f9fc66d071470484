import { afterEach, describe, expect, it } from 'vitest';
import { asciiRequest } from '../../src/util/net.js';
import { memcachedHealthy, toxiproxyHealthy, waitForExit } from '../../src/runtime/processes.js';
import { TestServers } from '../helpers/servers.js';

describe('real server processes', () => {
  const servers = new TestServers();
  afterEach(() => servers.stopAll());

  it('starts memcached that stores and returns a value, and stops it', async () => {
    const mc = await servers.memcached();
    expect(await memcachedHealthy(mc.host, mc.port)).toMatch(/^1\.6\./);
    expect(await asciiRequest(mc.host, mc.port, 'set k 0 0 1\r\nv\r\n')).toBe('STORED\r\n');
    expect(await asciiRequest(mc.host, mc.port, 'get k\r\n', { terminator: /END\r\n$/ })).toBe('VALUE k 0 1\r\nv\r\nEND\r\n');
    await mc.proc.stop();
    expect(await waitForExit(mc.proc.pid, 1000)).toBe(true);
  });

  it('starts the real Toxiproxy server', async () => {
    const tp = await servers.toxiproxy();
    expect(await toxiproxyHealthy(tp.host, tp.port)).toBeTruthy();
  });
});
