import { getFreePort } from '../../src/util/net.js';
import { startMemcached, startToxiproxy, type ManagedProcess } from '../../src/runtime/processes.js';

/**
 * Integration-test helpers: real memcached / Toxiproxy on free loopback ports.
 * Every start registers a stop; call `stopAll()` in afterEach/afterAll.
 */
export class TestServers {
  private readonly started: ManagedProcess[] = [];

  async memcached(extraArgs: { memoryMb?: number; maxItemSize?: string } = {}): Promise<{ host: string; port: number; proc: ManagedProcess }> {
    const port = await getFreePort();
    const proc = await startMemcached({ port, ...extraArgs });
    this.started.push(proc);
    return { host: '127.0.0.1', port, proc };
  }

  async toxiproxy(): Promise<{ host: string; port: number; url: string; proc: ManagedProcess }> {
    const port = await getFreePort();
    const proc = await startToxiproxy({ port });
    this.started.push(proc);
    return { host: '127.0.0.1', port, url: `http://127.0.0.1:${port}`, proc };
  }

  async stopAll(): Promise<void> {
    const procs = this.started.splice(0);
    await Promise.all(procs.map((p) => p.stop(2000)));
  }
}
