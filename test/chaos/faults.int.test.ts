import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Toxiproxy } from 'toxiproxy-node-client';
import { ToxiproxyFaultInjector, type FaultSpec } from '../../src/chaos/faults.js';
import { withFaultGuard } from '../../src/chaos/guard.js';
import { asciiRequest, getFreePort } from '../../src/util/net.js';
import { TestServers } from '../helpers/servers.js';

/** The fault library against a real toxiproxy-server in front of a real memcached. */
describe('ToxiproxyFaultInjector (real Toxiproxy)', () => {
  const servers = new TestServers();
  let api = '';
  let listenPort = 0;
  let injector: ToxiproxyFaultInjector;

  const version = (timeoutMs = 1000): Promise<string> => asciiRequest('127.0.0.1', listenPort, 'version\r\n', { timeoutMs });
  const link = async (): Promise<{ enabled: boolean; toxics: Array<{ name: string; type: string; stream: string; attributes: Record<string, number> }> }> =>
    (await (await fetch(`${api}/proxies/master`)).json()) as never;

  beforeAll(async () => {
    const mc = await servers.memcached();
    const tp = await servers.toxiproxy();
    api = tp.url;
    listenPort = await getFreePort();
    await new Toxiproxy(api).createProxy({ name: 'master', listen: `127.0.0.1:${listenPort}`, upstream: `127.0.0.1:${mc.port}` });
    injector = new ToxiproxyFaultInjector(api);
  });
  afterAll(() => servers.stopAll());

  it('link-down refuses connections; revert brings the node back with its data', async () => {
    await asciiRequest('127.0.0.1', listenPort, 'set k 0 0 1\r\nx\r\n');
    const applied = await injector.apply({ kind: 'link-down', link: 'master' });
    expect((await link()).enabled).toBe(false);
    await expect(version(300)).rejects.toThrow();
    await injector.revert(applied);
    expect((await link()).enabled).toBe(true);
    expect(await asciiRequest('127.0.0.1', listenPort, 'get k\r\n', { terminator: /END\r\n$/ })).toContain('VALUE k 0 1');
  });

  it('each toxic kind lands with its attributes and direction, and is removed on revert', async () => {
    const specs: Array<[FaultSpec, string, Record<string, number>]> = [
      [{ kind: 'latency', link: 'master', latencyMs: 300, jitterMs: 20 }, 'latency', { latency: 300, jitter: 20 }],
      [{ kind: 'timeout', link: 'master', direction: 'downstream', timeoutMs: 0 }, 'timeout', { timeout: 0 }],
      [{ kind: 'reset-peer', link: 'master', direction: 'upstream', timeoutMs: 10 }, 'reset_peer', { timeout: 10 }],
      [{ kind: 'slicer', link: 'master', averageSize: 4, sizeVariation: 1, delayUs: 10 }, 'slicer', { average_size: 4, size_variation: 1, delay: 10 }],
      [{ kind: 'limit-data', link: 'master', bytes: 5 }, 'limit_data', { bytes: 5 }],
      [{ kind: 'bandwidth', link: 'master', direction: 'upstream', rateKBps: 1 }, 'bandwidth', { rate: 1 }],
    ];
    for (const [spec, type, attributes] of specs) {
      const applied = await injector.apply(spec);
      const toxics = (await link()).toxics;
      expect(toxics).toHaveLength(1);
      expect(toxics[0]).toMatchObject({ type, stream: 'direction' in spec && spec.direction ? spec.direction : 'downstream', attributes });
      await injector.revert(applied);
      expect((await link()).toxics).toHaveLength(0);
    }
  });

  it('latency really slows replies; reverting restores the speed', async () => {
    const applied = await injector.apply({ kind: 'latency', link: 'master', latencyMs: 250 });
    const t0 = performance.now();
    await version(3000);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(240);
    await injector.revert(applied);
    const t1 = performance.now();
    await version();
    expect(performance.now() - t1).toBeLessThan(200);
  });

  it('reply-lost: with replies stopped, the write still reaches the node', async () => {
    const applied = await injector.apply({ kind: 'timeout', link: 'master', direction: 'downstream', timeoutMs: 300 });
    await expect(asciiRequest('127.0.0.1', listenPort, 'set lost 0 0 1\r\ny\r\n', { timeoutMs: 200 })).rejects.toThrow();
    await injector.revert(applied);
    expect(await asciiRequest('127.0.0.1', listenPort, 'get lost\r\n', { terminator: /END\r\n$/ })).toContain('VALUE lost 0 1');
  });

  it('an unknown link is a usage error naming it', async () => {
    await expect(injector.apply({ kind: 'link-down', link: 'nope' })).rejects.toThrow(/no Toxiproxy link named "nope"/);
  });

  it('a scenario that throws leaves no toxic and no disabled link behind', async () => {
    await expect(
      withFaultGuard(injector, async (guard) => {
        await guard.apply({ kind: 'link-down', link: 'master' });
        await guard.apply({ kind: 'latency', link: 'master', latencyMs: 100 });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const l = await link();
    expect(l.enabled).toBe(true);
    expect(l.toxics).toHaveLength(0);
  });

  it('resetAll clears toxics, re-enables links and removes chaos links', async () => {
    await injector.apply({ kind: 'latency', link: 'master', latencyMs: 100 });
    await injector.apply({ kind: 'link-down', link: 'master' });
    const extraPort = await getFreePort();
    await injector.createLink('chaos-extra', `127.0.0.1:${extraPort}`, `127.0.0.1:${listenPort}`);
    const report = await injector.resetAll();
    expect(report.toxicsRemoved).toHaveLength(1);
    expect(report.linksEnabled).toEqual(['master']);
    expect(report.linksRemoved).toEqual(['chaos-extra']);
    const all = (await (await fetch(`${api}/proxies`)).json()) as Record<string, unknown>;
    expect(Object.keys(all)).toEqual(['master']);
    expect(await version()).toMatch(/^VERSION/);
  });
});
