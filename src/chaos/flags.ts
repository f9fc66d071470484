import { Flags } from '@oclif/core';
import { defaultRequest, DEFAULT_PHASES, expandMitigation, formatDuration, parseDuration, validateRequest, type ScenarioKind, type ScenarioRequest } from './request.js';
import { parseExpectations } from './expectations.js';
import { reportFlags } from '../report/flags.js';

/** Flags every chaos scenario command shares, and how they become a ScenarioRequest. */
export const phaseFlags = {
  warmup: Flags.string({ description: 'warm-up before the fault (e.g. 3s, 500ms)', default: formatDuration(DEFAULT_PHASES.warmupMs) }),
  'fault-duration': Flags.string({ description: 'how long the fault lasts', default: formatDuration(DEFAULT_PHASES.faultMs) }),
  heal: Flags.string({ description: 'after the fault is reverted, before settling', default: formatDuration(DEFAULT_PHASES.healMs) }),
  settle: Flags.string({ description: 'traffic goes on after the heal, before the final scan and check', default: formatDuration(DEFAULT_PHASES.settleMs) }),
  seed: Flags.integer({ description: 'workload seed (printed with every result; the same seed replays the same run)', default: 1, min: 0 }),
  clients: Flags.integer({ description: 'concurrent workload clients', default: 8, min: 1, max: 256 }),
  keys: Flags.integer({ description: 'distinct keys; with the default rate each key is updated every ~2.5 s, so short-TTL entries can expire between updates', default: 1000, min: 1 }),
  'read-ratio': Flags.string({ description: 'share of reads, 0..1', default: '0.8' }),
  rate: Flags.integer({ description: 'workload rate cap in ops/s over all clients (0 = as fast as possible)', default: 2000, min: 0 }),
  'read-policy': Flags.string({
    description: 'proxy read policy during the run; balanced = reads spread over both replicas as in production under load',
    options: ['master', 'slave', 'balanced'],
    default: 'balanced',
  }),
  'short-ttl': Flags.string({ description: 'client-short-ttl: TTL of the values clients write to the slave (production uses 5m; scaled down with the outage)', default: '2s' }),
  'proxy-timeout': Flags.string({ description: "the proxies' backend timeout during the run", default: '200ms' }),
  shard: Flags.integer({
    description: 'the master/slave pair to target (shard-N, see `cachectl status`): faults, workload and scans use that pair for the run; the proxies get their full shard map back afterwards',
    default: 0,
    min: 0,
    max: 15,
  }),
  expect: Flags.string({
    description: "a rule on the measured numbers, e.g. 'staleReads == 0' or 'proxy-delete.hitRate >= 0.5' (repeatable); exit 1 when one fails",
    multiple: true,
  }),
  junit: Flags.string({ description: 'write a JUnit XML file (one testcase per expectation)' }),
  ...reportFlags,
};

export interface PhaseFlagValues {
  warmup: string;
  'fault-duration': string;
  heal: string;
  settle: string;
  seed: number;
  clients: number;
  keys: number;
  'read-ratio': string;
  rate: number;
  'read-policy': string;
  'short-ttl': string;
  'proxy-timeout': string;
  expect?: string[];
  junit?: string;
  report?: string;
  'results-dir'?: string;
  save?: boolean;
  mitigation?: string;
  fault?: string;
  'switch-after'?: string;
  shard?: number;
}

export function requestFromFlags(scenario: ScenarioKind, f: PhaseFlagValues): ScenarioRequest {
  const req = defaultRequest(scenario);
  req.warmupMs = parseDuration(f.warmup, '--warmup');
  req.faultMs = parseDuration(f['fault-duration'], '--fault-duration');
  req.healMs = parseDuration(f.heal, '--heal');
  req.settleMs = parseDuration(f.settle, '--settle');
  req.seed = f.seed;
  req.clients = f.clients;
  req.keys = f.keys;
  req.readRatio = Number(f['read-ratio']);
  req.opsPerSecond = f.rate;
  req.readPolicy = f['read-policy'] as ScenarioRequest['readPolicy'];
  req.shortTtlSeconds = Math.max(1, Math.round(parseDuration(f['short-ttl'], '--short-ttl') / 1000));
  req.proxyTimeoutMs = parseDuration(f['proxy-timeout'], '--proxy-timeout');
  if (f.mitigation) req.mitigations = expandMitigation(f.mitigation);
  if (f.fault) req.fault = f.fault as ScenarioRequest['fault'];
  if (f['switch-after'] !== undefined) req.switchAfterMs = parseDuration(f['switch-after'], '--switch-after');
  if (f.shard !== undefined) req.shard = f.shard;
  req.expect = f.expect ?? [];
  // Fail on a bad rule before starting anything.
  parseExpectations(req.expect);
  if (f.junit) req.junit = f.junit;
  Object.assign(req, { report: f.report, resultsDir: f['results-dir'], save: f.save });
  return validateRequest(req);
}
