import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseExpectations } from '../../src/chaos/expectations.js';
import { requestFromFlags, type PhaseFlagValues } from '../../src/chaos/flags.js';
import { loadScenarioFile, parseDuration, replayCommand } from '../../src/chaos/request.js';
import { CachectlError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'scenario-'));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

function errorOf(fn: () => unknown): CachectlError {
  try {
    fn();
  } catch (err) {
    return err as CachectlError;
  }
  throw new Error('expected an error');
}

describe('parseDuration', () => {
  it('reads ms, s, m and bare numbers', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('3s')).toBe(3000);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('250')).toBe(250);
    expect(parseDuration(42)).toBe(42);
  });
  it('rejects nonsense with a usage error', () => {
    expect(errorOf(() => parseDuration('3 hours', '--warmup')).message).toContain('cannot read --warmup "3 hours"');
    expect(errorOf(() => parseDuration(-1)).exitCode).toBe(2);
  });
});

describe('scenario YAML files', () => {
  it('every example in examples/ loads and its rules parse', () => {
    const examples = readdirSync('examples').filter((f) => f.endsWith('.yaml'));
    expect(examples.length).toBeGreaterThanOrEqual(3);
    for (const f of examples) {
      const req = loadScenarioFile(join('examples', f));
      expect(() => parseExpectations(req.expect)).not.toThrow();
    }
  });
  it('fills the request from the file, with defaults for what it leaves out', () => {
    const req = loadScenarioFile(
      file('a.yaml', 'scenario: master-down\nfault: crash\nmitigation: all\nseed: 9\nphases: { fault: 4s }\nworkload: { clients: 3, rate: 500 }\nexpect: ["staleReads == 0"]\n'),
    );
    expect(req).toMatchObject({ scenario: 'master-down', fault: 'crash', mitigations: ['none', 'proxy-delete', 'client-short-ttl'], seed: 9, faultMs: 4000, warmupMs: 3000, clients: 3, opsPerSecond: 500, expect: ['staleReads == 0'] });
  });
  it('accepts a list of mitigations', () => {
    expect(loadScenarioFile(file('b.yaml', 'scenario: master-down\nmitigation: [proxy-delete, none]\n')).mitigations).toEqual(['proxy-delete', 'none']);
  });
  it('names the bad field and what is allowed', () => {
    const e = errorOf(() => loadScenarioFile(file('c.yaml', 'scenario: master-down\nfault: meteor\n')));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toMatch(/fault: .*allowed: partition, crash, reply-lost, slow/);
    const unknown = errorOf(() => loadScenarioFile(file('d.yaml', 'scenario: slave-down\nfualt: crash\n')));
    expect(unknown.message).toContain('fualt');
  });
  it('reports bad YAML with its line, and a missing file', () => {
    expect(errorOf(() => loadScenarioFile(file('e.yaml', 'scenario: [master-down\n'))).message).toMatch(/not valid YAML/);
    expect(errorOf(() => loadScenarioFile(join(dir, 'nope.yaml'))).code).toBe('CONFIG_NOT_FOUND');
  });
  it('checks cross-field rules (switch inside the fault)', () => {
    const e = errorOf(() => loadScenarioFile(file('f.yaml', 'scenario: master-down\nphases: { fault: 4s }\nswitchAfter: 5s\n')));
    expect(e.message).toContain('must fall inside the fault');
    expect(e.message).toContain('f.yaml');
  });
});

const flags = (over: Partial<PhaseFlagValues> = {}): PhaseFlagValues => ({
  warmup: '1s', 'fault-duration': '2s', heal: '1s', settle: '1s', seed: 5, clients: 2, keys: 10, 'read-ratio': '0.8', rate: 0,
  'read-policy': 'balanced', 'short-ttl': '2s', 'proxy-timeout': '200ms', ...over,
});

describe('requestFromFlags and the replay command', () => {
  it('builds the request and a replay line that rebuilds it', () => {
    const req = requestFromFlags('master-down', flags({ mitigation: 'all', fault: 'reply-lost', expect: ['staleReads == 0'], 'switch-after': '1s' }));
    expect(req.mitigations).toHaveLength(3);
    expect(req.switchAfterMs).toBe(1000);
    const line = replayCommand(req);
    expect(line).toBe(
      "cachectl chaos master-down --fault reply-lost --mitigation all --seed 5 --warmup 1s --fault-duration 2s --heal 1s --settle 1s --clients 2 --keys 10 --rate 0 --switch-after 1s --expect 'staleReads == 0'",
    );
  });
  it('rejects a bad rule before anything starts', () => {
    expect(errorOf(() => requestFromFlags('master-down', flags({ expect: ['stale == 0'] }))).message).toContain('unknown metric "stale"');
  });
  it('rejects out-of-range values', () => {
    expect(errorOf(() => requestFromFlags('master-down', flags({ 'read-ratio': '2' }))).message).toContain('read ratio');
    expect(errorOf(() => requestFromFlags('slave-down', flags({ 'switch-after': '1s' }))).message).toContain('master-down only');
  });
});
