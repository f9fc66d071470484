import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PendingInvalidationLog } from '../../src/proxy/pending-log.js';
import { parseAddr, parseShard, proxyOptionsFromFlags } from '../../src/proxy/cli.js';
import { CachectlError } from '../../src/errors.js';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'pending-log-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('PendingInvalidationLog', () => {
  it('is durable: entries written and fsynced survive a reload; landed ones are gone', () => {
    const file = join(tmp(), 'pending.log');
    const log = new PendingInvalidationLog(file);
    log.add('s0', Buffer.from('a key with spaces\r\n'));
    log.add('s0', Buffer.from('b'));
    log.add('s0', Buffer.from('b'));
    log.remove('s0', Buffer.from('b'));
    log.close();
    const again = new PendingInvalidationLog(file);
    expect(again.entries().map((e) => e.key?.toString())).toEqual(['a key with spaces\r\n']);
    expect(readFileSync(file, 'latin1')).toContain(Buffer.from('a key with spaces\r\n').toString('hex'));
    again.close();
  });

  it('stays bounded: past maxKeys a shard collapses into one owed flush', () => {
    const log = new PendingInvalidationLog(undefined, 3);
    for (const k of ['a', 'b', 'c', 'd']) log.add('s0', Buffer.from(k));
    log.add('s1', Buffer.from('x'));
    expect(log.entries()).toEqual([
      { shard: 's0', key: null },
      { shard: 's1', key: Buffer.from('x') },
    ]);
    log.add('s0', Buffer.from('e'));
    expect(log.size).toBe(2);
  });
});

describe('proxy flags', () => {
  it('parses host:port and shards, and explains bad ones', () => {
    expect(parseAddr('127.0.0.1:11311', '--master')).toEqual({ host: '127.0.0.1', port: 11311 });
    expect(parseAddr('[::1]:5', '--master')).toEqual({ host: '::1', port: 5 });
    expect(() => parseAddr('localhost', '--master')).toThrow(CachectlError);
    expect(() => parseAddr('h:70000', '--master')).toThrow(/host:port/);
    expect(parseShard('s1=127.0.0.1:1/127.0.0.1:2')).toEqual({ name: 's1', master: { host: '127.0.0.1', port: 1 }, slave: { host: '127.0.0.1', port: 2 } });
    expect(parseShard('s2=127.0.0.1:1/none').slave).toBeNull();
    expect(() => parseShard('nonsense')).toThrow(/name=masterHost:port\/slaveHost:port/);
  });

  it('builds the runtime config with schema defaults and the token from the environment', () => {
    const o = proxyOptionsFromFlags(
      { host: '127.0.0.1', port: 0, 'admin-host': '127.0.0.1', 'admin-port': 0, master: '127.0.0.1:1', slave: '127.0.0.1:2', mitigation: 'proxy-delete', epoch: 7 },
      { CACHECTL_ADMIN_TOKEN: 'tok' },
    );
    expect(o.adminToken).toBe('tok');
    expect(o.config).toMatchObject({ epoch: 7, mitigation: 'proxy-delete', readPolicy: 'master', replication: 'sync', failover: 'manual', writesFenced: false });
    expect(() => proxyOptionsFromFlags({ host: 'h', port: 0, 'admin-host': 'h', 'admin-port': 0, master: '127.0.0.1:1', mitigation: 'maybe' }, {})).toThrow(/--mitigation must be one of/);
  });
});
