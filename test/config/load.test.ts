import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configFromEnv, envNameFor, loadConfig, mergeLayers, validateConfig } from '../../src/config/load.js';
import { DEFAULT_PORTS, sizeToBytes } from '../../src/config/schema.js';
import { CachectlError } from '../../src/errors.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cachectl-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** The CachectlError a function throws (fails the test when it does not throw one). */
function errorOf(fn: () => unknown): CachectlError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CachectlError);
    return err as CachectlError;
  }
  throw new Error('expected an error, got none');
}

const load = (opts: { yaml?: string; env?: NodeJS.ProcessEnv; overrides?: Record<string, unknown> } = {}) => {
  if (opts.yaml !== undefined) writeFileSync(join(dir, 'cachectl.yaml'), opts.yaml);
  return loadConfig({ cwd: dir, env: opts.env ?? {}, overrides: opts.overrides }).config;
};

describe('config defaults', () => {
  it('works with no file, no env and no flags, using the documented defaults', () => {
    const c = load();
    expect(c.runtime).toBe('local');
    expect(c.name).toBe('default');
    expect(c.stateDir).toBe(join(dir, '.cachectl'));
    expect(c.ports).toEqual(DEFAULT_PORTS);
    expect(DEFAULT_PORTS).toEqual({ master: 11311, slave: 11312, toxiproxyApi: 8474, toxiMaster: 21311, toxiSlave: 21312, proxy: 21211, admin: 21280 });
    expect(c.memcached).toEqual({ memoryMb: 64, maxItemSize: '1m', threads: 2, maxConnections: 4096 });
    expect(c.proxy).toMatchObject({ instances: 1, readPolicy: 'master', mitigation: 'none', replication: 'sync', failover: 'manual', timeoutMs: 500, adminToken: '', adminHost: '127.0.0.1' });
  });

  it('an empty cachectl.yaml is the defaults', () => {
    expect(load({ yaml: '# nothing yet\n' })).toEqual(load());
  });
});

describe('environment mapping', () => {
  it('maps CACHECTL_* names onto nested camelCase fields and coerces numbers', () => {
    expect(envNameFor(['proxy', 'readPolicy'])).toBe('CACHECTL_PROXY_READ_POLICY');
    expect(envNameFor(['ports', 'toxiproxyApi'])).toBe('CACHECTL_PORTS_TOXIPROXY_API');
    const layer = configFromEnv({
      CACHECTL_PORTS_MASTER: '12000',
      CACHECTL_PORTS_TOXIPROXY_API: '0',
      CACHECTL_PROXY_READ_POLICY: 'balanced',
      CACHECTL_MEMCACHED_MEMORY_MB: '256',
      CACHECTL_MEMCACHED_MAX_ITEM_SIZE: '2m',
      CACHECTL_SHORT_TTL_SECONDS: '5',
      CACHECTL_NAME: 'ci-1',
      CACHECTL_EMPTY: '',
      CACHECTL_PROXY_MITIGATION: '',
      UNRELATED: 'x',
    });
    expect(layer).toEqual({
      name: 'ci-1',
      shortTtlSeconds: 5,
      ports: { master: 12000, toxiproxyApi: 0 },
      memcached: { memoryMb: 256, maxItemSize: '2m' },
      proxy: { readPolicy: 'balanced' },
    });
  });

  it('keeps a non-numeric value for a number field as text, so validation names it', () => {
    const err = errorOf(() => load({ env: { CACHECTL_PORTS_MASTER: 'eleven' } }));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain('ports.master: got "eleven" (from CACHECTL_PORTS_MASTER); expected number');
  });
});

describe('precedence: defaults < cachectl.yaml < CACHECTL_* < flags', () => {
  const yaml = 'name: from-file\nports:\n  master: 13001\n  slave: 13002\nproxy:\n  mitigation: proxy-delete\n  readPolicy: slave\n';

  it('the file overrides defaults', () => {
    const c = load({ yaml });
    expect(c).toMatchObject({ name: 'from-file', ports: { master: 13001, slave: 13002 }, proxy: { mitigation: 'proxy-delete', readPolicy: 'slave' } });
    expect(c.ports.toxiproxyApi).toBe(8474);
  });

  it('the environment overrides the file, field by field', () => {
    const c = load({ yaml, env: { CACHECTL_PORTS_MASTER: '14001', CACHECTL_PROXY_MITIGATION: 'client-short-ttl' } });
    expect(c.ports).toMatchObject({ master: 14001, slave: 13002 });
    expect(c.proxy).toMatchObject({ mitigation: 'client-short-ttl', readPolicy: 'slave' });
  });

  it('flags override the environment; unset (undefined) flags do not erase lower layers', () => {
    const c = load({
      yaml,
      env: { CACHECTL_PORTS_MASTER: '14001', CACHECTL_PROXY_MITIGATION: 'client-short-ttl' },
      overrides: { ports: { master: 15001, slave: undefined }, proxy: { mitigation: undefined, readPolicy: 'balanced' } },
    });
    expect(c.ports).toMatchObject({ master: 15001, slave: 13002 });
    expect(c.proxy).toMatchObject({ mitigation: 'client-short-ttl', readPolicy: 'balanced' });
    expect(c.name).toBe('from-file');
  });

  it('--config / CACHECTL_CONFIG name another file; a missing explicit file is an error', () => {
    writeFileSync(join(dir, 'other.yaml'), 'name: other\n');
    expect(loadConfig({ cwd: dir, env: { CACHECTL_CONFIG: 'other.yaml' } }).config.name).toBe('other');
    expect(loadConfig({ cwd: dir, env: {}, file: join(dir, 'other.yaml') }).config.name).toBe('other');
    const err = errorOf(() => loadConfig({ cwd: dir, env: {}, file: 'missing.yaml' }));
    expect(err.code).toBe('CONFIG_NOT_FOUND');
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain(join(dir, 'missing.yaml'));
  });

  it('mergeLayers merges deeply and later layers win', () => {
    expect(mergeLayers({ a: { b: 1, c: 2 }, d: 1 }, { a: { c: 3 } }, { d: undefined, e: [1] })).toEqual({ a: { b: 1, c: 3 }, d: 1, e: [1] });
  });
});

describe('validation: every bad value names the field, the value and what is allowed', () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['runtime', { runtime: 'kubernetes' }, 'runtime: got "kubernetes"; allowed: local, docker, auto'],
    ['name', { name: 'Bad Name!' }, 'name: got "Bad Name!"; lowercase letters, digits and dashes'],
    ['stateDir', { stateDir: '' }, 'stateDir: got ""; must be >= 1'],
    ['shards', { shards: 0 }, 'shards: got 0; must be >= 1'],
    ['shortTtlSeconds', { shortTtlSeconds: 1.5 }, 'shortTtlSeconds: got 1.5; expected integer'],
    ['ports.master', { ports: { master: 70000 } }, 'ports.master: got 70000; must be <= 65535'],
    ['ports.slave', { ports: { slave: -1 } }, 'ports.slave: got -1; must be >= 0'],
    ['ports.toxiproxyApi', { ports: { toxiproxyApi: '8474' } }, 'ports.toxiproxyApi: got "8474"; expected number'],
    ['ports.unknown', { ports: { mster: 1 } }, "unknown field(s) mster"],
    ['memcached.memoryMb', { memcached: { memoryMb: 4 } }, 'memcached.memoryMb: got 4; must be >= 8'],
    ['memcached.maxItemSize', { memcached: { maxItemSize: '1 GB' } }, 'memcached.maxItemSize: got "1 GB"; a size like "1m" or "512k"'],
    ['memcached.threads', { memcached: { threads: 65 } }, 'memcached.threads: got 65; must be <= 64'],
    ['memcached.maxConnections', { memcached: { maxConnections: 1 } }, 'memcached.maxConnections: got 1; must be >= 16'],
    ['proxy.instances', { proxy: { instances: 17 } }, 'proxy.instances: got 17; must be <= 16'],
    ['proxy.readPolicy', { proxy: { readPolicy: 'random' } }, 'proxy.readPolicy: got "random"; allowed: master, slave, balanced'],
    ['proxy.mitigation', { proxy: { mitigation: 'pray' } }, 'proxy.mitigation: got "pray"; allowed: none, proxy-delete, client-short-ttl'],
    ['proxy.replication', { proxy: { replication: 'eventual' } }, 'proxy.replication: got "eventual"; allowed: sync, async'],
    ['proxy.failover', { proxy: { failover: 'yes' } }, 'proxy.failover: got "yes"; allowed: manual, auto'],
    ['proxy.failoverThreshold', { proxy: { failoverThreshold: 0 } }, 'proxy.failoverThreshold: got 0; must be >= 1'],
    ['proxy.timeoutMs', { proxy: { timeoutMs: 0 } }, 'proxy.timeoutMs: got 0; must be >= 1'],
    ['proxy.downAfterFailures', { proxy: { downAfterFailures: 1001 } }, 'proxy.downAfterFailures: got 1001; must be <= 1000'],
    ['proxy.probeIntervalMs', { proxy: { probeIntervalMs: 5 } }, 'proxy.probeIntervalMs: got 5; must be >= 10'],
    ['proxy.adminToken', { proxy: { adminToken: 42 } }, 'proxy.adminToken: got 42; expected string'],
    ['docker.network', { docker: { network: 'overlay' } }, 'docker.network: got "overlay"; allowed: bridge, host'],
    ['docker.memcachedImage', { docker: { memcachedImage: '' } }, 'docker.memcachedImage: got ""; must be >= 1'],
    ['root unknown key', { mitigaton: 'none' }, 'unknown field(s) mitigaton'],
  ];

  it.each(cases)('%s', (_label, input, expected) => {
    const err = errorOf(() => validateConfig(input));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain(expected);
    expect(err.hint).toContain('CACHECTL_*');
    const problems = (err.details as { problems: Array<{ field: string }> }).problems;
    expect(problems).toHaveLength(1);
  });

  it('refuses item sizes memcached would refuse at start: below 1k, above 1024m, above half the memory', () => {
    expect(errorOf(() => validateConfig({ memcached: { maxItemSize: '512' } })).message).toContain('memcached.maxItemSize: got "512"; memcached needs at least 1k');
    expect(errorOf(() => validateConfig({ memcached: { memoryMb: 65536, maxItemSize: '2048m' } })).message).toContain('at most 1024m');
    const half = errorOf(() => validateConfig({ memcached: { memoryMb: 8, maxItemSize: '8m' } }));
    expect(half.message).toContain('memcached.maxItemSize: got "8m"; memcached allows at most half of memcached.memoryMb (8 MiB)');
    expect(validateConfig({ memcached: { memoryMb: 8, maxItemSize: '4m' } }).memcached.maxItemSize).toBe('4m');
    expect(validateConfig({ memcached: { maxItemSize: '1024' } }).memcached.maxItemSize).toBe('1024');
    expect(sizeToBytes('512k')).toBe(524288);
    expect(sizeToBytes('2M')).toBe(2 * 1024 * 1024);
    expect(sizeToBytes('1 GB')).toBeNaN();
  });

  it('reports every bad field at once, not just the first', () => {
    const err = errorOf(() => validateConfig({ runtime: 'x', proxy: { mitigation: 'y', instances: -1 } }));
    const fields = (err.details as { problems: Array<{ field: string }> }).problems.map((p) => p.field).sort();
    expect(fields).toEqual(['proxy.instances', 'proxy.mitigation', 'runtime']);
  });

  it('says which layer a bad value came from: the file, the variable or a flag', () => {
    const fromFile = errorOf(() => load({ yaml: 'proxy:\n  readPolicy: random\n' }));
    expect(fromFile.message).toContain(`proxy.readPolicy: got "random" (from ${join(dir, 'cachectl.yaml')}); allowed: master, slave, balanced`);
    const fromEnv = errorOf(() => load({ yaml: 'proxy:\n  readPolicy: slave\n', env: { CACHECTL_PROXY_READ_POLICY: 'random' } }));
    expect(fromEnv.message).toContain('(from CACHECTL_PROXY_READ_POLICY)');
    const fromFlag = errorOf(() => load({ env: { CACHECTL_PROXY_INSTANCES: '2' }, overrides: { proxy: { instances: 99 } } }));
    expect(fromFlag.message).toContain('proxy.instances: got 99 (from a flag); must be <= 16');
    const unknown = errorOf(() => load({ yaml: 'proxy:\n  mitgation: none\n' }));
    expect(unknown.message).toContain(`unknown field(s) mitgation`);
    expect(unknown.message).toContain(join(dir, 'cachectl.yaml'));
  });
});

describe('config file errors', () => {
  it('invalid YAML names the file and the line', () => {
    const err = errorOf(() => load({ yaml: 'ports:\n  master: [1\n' }));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toMatch(/cachectl\.yaml is not valid YAML at line \d/);
  });

  it('a file that is not a mapping is refused', () => {
    expect(errorOf(() => load({ yaml: '- a\n- b\n' })).message).toContain('must hold a mapping of settings, got a list');
    expect(errorOf(() => load({ yaml: 'just text\n' })).message).toContain('got string');
  });
});
