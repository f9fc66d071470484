import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { asciiRequest, getFreePorts } from '../../src/util/net.js';
import { createCliSandbox, pidAlive, REPO_ROOT, runCli, type CliSandbox } from '../helpers/cli.js';

/** The built CLI: exit codes (DESIGN.md section 7) and the --json shapes of up, status and down. */

const sandboxes: CliSandbox[] = [];
function sandbox(): CliSandbox {
  const s = createCliSandbox();
  sandboxes.push(s);
  return s;
}
afterAll(async () => {
  await Promise.all(sandboxes.map((s) => s.cleanup()));
});

describe('cachectl CLI (built)', () => {
  it('prints help listing up, status and down, with examples', async () => {
    const root = await runCli(['--help']);
    expect(root.exitCode).toBe(0);
    for (const cmd of ['up', 'status', 'down']) expect(root.stdout).toMatch(new RegExp(`^\\s+${cmd}\\s`, 'm'));
    // The shared base class lives in src/commands but is not a command.
    expect(root.stdout).not.toContain('base-command');
    const up = await runCli(['up', '--help']);
    expect(up.exitCode).toBe(0);
    expect(up.stdout).toContain('EXAMPLES');
    expect(up.stdout).toContain('--free-ports');
    expect(up.stdout).toContain('--json');
  });

  it('bin/dev.js runs the same commands from the TypeScript sources', async () => {
    const dev = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bin', 'dev.js'), 'status', '--json'], { cwd: REPO_ROOT, env: { ...process.env, CACHECTL_STATE_DIR: join(REPO_ROOT, 'no-such-state-dir'), NO_COLOR: '1' } }, (err, stdout) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout }),
      );
    });
    expect(dev.code).toBe(2);
    expect(JSON.parse(dev.stdout).error.code).toBe('STATE_NOT_FOUND');
  });

  it('up, status and down: --json shapes, idempotent up, down leaves no process and is safe twice', async () => {
    const cli = sandbox();
    const up = await cli.up(['--proxies', '1']);
    expect(up.exitCode).toBe(0);
    expect(up.json).toMatchObject({ name: 'e2e', runtime: 'local', alreadyRunning: false, adminToken: expect.stringMatching(/^[0-9a-f]{48}$/) });
    const names = up.json.state.components.map((c: { name: string }) => c.name);
    expect(names).toEqual(['master', 'slave', 'toxiproxy', 'proxy-0']);
    const pids: number[] = up.json.state.components.map((c: { pid: number }) => c.pid);
    expect(pids.every((p) => Number.isInteger(p) && pidAlive(p))).toBe(true);
    expect(up.json.endpoints.map((e: { component: string }) => e.component)).toEqual(['master', 'slave', 'toxiproxy', 'proxy-0', 'toxiproxy/master', 'toxiproxy/slave']);
    expect(up.json.clientEndpoint).toBe(`127.0.0.1:${up.json.state.config.ports.proxy}`);

    // A value set through the cachectl proxy lands on the master.
    const proxy = up.json.state.components[3].endpoint;
    const master = up.json.state.components[0].endpoint;
    expect(await asciiRequest(proxy.host, proxy.port, 'set e2e-key 0 0 2\r\nhi\r\n')).toBe('STORED\r\n');
    expect(await asciiRequest(master.host, master.port, 'get e2e-key\r\n', { terminator: /END\r\n$/ })).toBe('VALUE e2e-key 0 2\r\nhi\r\nEND\r\n');

    const again = await cli.run(['up', '--free-ports', '--json']);
    expect(again.exitCode).toBe(0);
    expect(again.json.alreadyRunning).toBe(true);
    expect(again.json.state.components.map((c: { pid: number }) => c.pid)).toEqual(pids);
    const human = await cli.run(['up', '--free-ports']);
    expect(human.stdout).toContain('already running');

    const status = await cli.run(['status', '--json']);
    expect(status.exitCode).toBe(0);
    expect(status.json).toMatchObject({ name: 'e2e', runtime: 'local', healthy: true });
    const byName = Object.fromEntries(status.json.components.map((c: { name: string }) => [c.name, c]));
    expect(byName.master).toMatchObject({ kind: 'memcached', role: 'master', healthy: true, version: expect.stringMatching(/^1\.6\./), items: 1, pid: pids[0] });
    expect(byName.slave).toMatchObject({ kind: 'memcached', role: 'slave', healthy: true, uptimeSeconds: expect.any(Number) });
    expect(byName.toxiproxy.links).toEqual([
      expect.objectContaining({ name: 'master', enabled: true, toxics: [] }),
      expect.objectContaining({ name: 'slave', enabled: true, toxics: [] }),
    ]);
    expect(byName['proxy-0']).toMatchObject({ kind: 'proxy', healthy: true, epoch: expect.any(Number) });

    const down = await cli.run(['down', '--json']);
    expect(down.exitCode).toBe(0);
    expect(down.json).toMatchObject({ name: 'e2e', wasRunning: true });
    expect(down.json.stopped.map((s: { pid: number }) => s.pid)).toEqual(pids);
    expect(pids.filter(pidAlive)).toEqual([]);
    expect(cli.state()).toBeUndefined();

    const twice = await cli.run(['down', '--json']);
    expect(twice.exitCode).toBe(0);
    expect(twice.json).toMatchObject({ wasRunning: false, stopped: [] });
  });

  it('status exits 3 when a component is down, and 2 when no cluster runs', async () => {
    const cli = sandbox();
    const up = await cli.up(['--proxies', '0']);
    process.kill(up.json.state.components[0].pid, 'SIGKILL');
    const status = await cli.run(['status', '--json']);
    expect(status.exitCode).toBe(3);
    expect(status.json.healthy).toBe(false);
    expect(status.json.components[0]).toMatchObject({ name: 'master', healthy: false, error: 'not running' });
    expect(status.json.components[1]).toMatchObject({ name: 'slave', healthy: true });
    expect((await cli.run(['down'])).exitCode).toBe(0);

    const none = await cli.run(['status', '--json']);
    expect(none.exitCode).toBe(2);
    expect(none.json.error).toMatchObject({ code: 'STATE_NOT_FOUND', hint: expect.stringContaining('cachectl up') });
  });

  it('exit 2 for a bad flag and for bad config values from a flag, the environment and cachectl.yaml', async () => {
    const cli = sandbox();
    const badFlag = await cli.run(['up', '--no-such-flag']);
    expect(badFlag.exitCode).toBe(2);
    expect(badFlag.stderr).toContain('--no-such-flag');

    const badOption = await cli.run(['up', '--read-policy', 'sideways', '--json']);
    expect(badOption.exitCode).toBe(2);

    const badValue = await cli.run(['up', '--proxies', '99', '--json']);
    expect(badValue.exitCode).toBe(2);
    expect(badValue.json.error.code).toBe('CONFIG_INVALID');
    expect(badValue.json.error.message).toContain('proxy.instances: got 99 (from a flag); must be <= 16');

    const badEnv = await cli.run(['up', '--json'], { env: { CACHECTL_PROXY_MITIGATION: 'pray' } });
    expect(badEnv.exitCode).toBe(2);
    expect(badEnv.json.error.details.problems).toEqual([
      expect.objectContaining({ field: 'proxy.mitigation', value: 'pray', source: 'CACHECTL_PROXY_MITIGATION', message: expect.stringContaining('allowed: none, proxy-delete, client-short-ttl') }),
    ]);

    writeFileSync(join(cli.dir, 'cachectl.yaml'), 'memcached:\n  memoryMb: 2\n');
    const badFile = await cli.run(['up']);
    expect(badFile.exitCode).toBe(2);
    expect(badFile.stderr).toContain(`memcached.memoryMb: got 2 (from ${join(cli.dir, 'cachectl.yaml')}); must be >= 8`);
    expect(cli.state()).toBeUndefined();
  });

  it('exit 3 naming the binary when memcached or toxiproxy-server is missing, with nothing left running', async () => {
    const cli = sandbox();
    const noMemcached = await cli.run(['up', '--free-ports', '--json'], { env: { CACHECTL_MEMCACHED_BIN: '/nonexistent/memcached' } });
    expect(noMemcached.exitCode).toBe(3);
    expect(noMemcached.json.error).toMatchObject({ code: 'BINARY_MISSING', details: { binary: 'memcached' }, hint: expect.stringContaining('apt-get install memcached') });

    // PATH without /usr/local/bin, where toxiproxy-server lives on this machine.
    const noToxiproxy = await cli.run(['up', '--free-ports'], { env: { PATH: '/usr/bin:/bin', HOME: cli.dir, CACHECTL_TOXIPROXY_SERVER_BIN: '' } });
    expect(noToxiproxy.exitCode).toBe(3);
    expect(noToxiproxy.stderr).toContain('toxiproxy-server');
    expect(noToxiproxy.stderr).toContain('scripts/setup.sh');
    expect(cli.state()).toBeUndefined();
  });

  it('exit 3 with the field name when a fixed port is already taken', async () => {
    const cli = sandbox();
    const [taken, ...rest] = await getFreePorts(7);
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(taken, '127.0.0.1', () => r()));
    try {
      const res = await cli.run([
        'up', '--json', '--proxies', '0',
        '--master-port', String(rest[0]), '--slave-port', String(rest[1]), '--toxiproxy-port', String(taken),
        '--toxi-master-port', String(rest[2]), '--toxi-slave-port', String(rest[3]),
      ]);
      expect(res.exitCode).toBe(3);
      expect(res.json.error).toMatchObject({ code: 'PORT_IN_USE', details: { port: taken, field: 'ports.toxiproxyApi' } });
      expect(res.json.error.hint).toContain('--free-ports');
      expect(cli.state()).toBeUndefined();
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });
});
