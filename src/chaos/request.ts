import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { CachectlError, usageError } from '../errors.js';
import type { MasterFaultKind, MitigationName } from './types.js';

/**
 * What a chaos run is asked to do: built from flags (`cachectl chaos master-down ...`) or from a
 * YAML file (`cachectl chaos run scenario.yaml`), validated the same way either way.
 */

export const SCENARIOS = ['master-down', 'slave-down', 'slave-slow', 'flapping', 'auto-failover'] as const;
export type ScenarioKind = (typeof SCENARIOS)[number];
export const MASTER_FAULTS: readonly MasterFaultKind[] = ['partition', 'crash', 'reply-lost', 'slow'];
export const MITIGATION_CHOICES = ['none', 'proxy-delete', 'client-short-ttl', 'all'] as const;
export const ALL_MITIGATIONS: readonly MitigationName[] = ['none', 'proxy-delete', 'client-short-ttl'];

/** Defaults chosen so `--mitigation all` (3 runs) stays well under 90 s on a 2-core machine. */
export const DEFAULT_PHASES = { warmupMs: 3000, faultMs: 8000, healMs: 2000, settleMs: 3000 } as const;

export interface ScenarioRequest {
  scenario: ScenarioKind;
  fault: MasterFaultKind;
  mitigations: MitigationName[];
  warmupMs: number;
  faultMs: number;
  healMs: number;
  settleMs: number;
  seed: number;
  clients: number;
  keys: number;
  readRatio: number;
  readPolicy: 'master' | 'slave' | 'balanced';
  /** client-short-ttl TTL on the slave, seconds */
  shortTtlSeconds: number;
  /** the proxies' backend timeout during the run */
  proxyTimeoutMs: number;
  /** workload rate cap, logical ops/s over all clients (0 = as fast as possible) */
  opsPerSecond: number;
  /** master-down: run the manual switch this long after the fault starts */
  switchAfterMs?: number;
  /** the master/slave pair (shard index, as in `shard-N`) the faults, workload and scans target; 0 by default */
  shard: number;
  expect: string[];
  junit?: string;
  /** --report / --results-dir / --no-save: the HTML report and the saved run (src/report) */
  report?: string;
  resultsDir?: string;
  save?: boolean;
}

/** "3s", "500ms", "1.5s", "2m", or a bare number of ms. */
export function parseDuration(text: string | number, what = 'duration'): number {
  if (typeof text === 'number') {
    if (!Number.isFinite(text) || text < 0) throw usageError(`${what} must be a non-negative number of ms, got ${text}`);
    return Math.round(text);
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(text);
  if (!m) throw usageError(`cannot read ${what} "${text}"`, 'write a duration like 500ms, 3s, 1.5s or 2m');
  const n = Number(m[1]);
  const unit = m[2] ?? 'ms';
  return Math.round(unit === 'ms' ? n : unit === 's' ? n * 1000 : n * 60_000);
}

export function formatDuration(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1000 && ms % 100 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

export function expandMitigation(choice: string): MitigationName[] {
  if (choice === 'all') return [...ALL_MITIGATIONS];
  if ((ALL_MITIGATIONS as readonly string[]).includes(choice)) return [choice as MitigationName];
  throw usageError(`unknown mitigation "${choice}"`, `use one of: ${MITIGATION_CHOICES.join(', ')}`);
}

/** Check ranges that flags and YAML both must respect. */
export function validateRequest(req: ScenarioRequest): ScenarioRequest {
  const problems: string[] = [];
  if (req.faultMs < 500) problems.push(`fault duration ${req.faultMs} ms is too short to observe (>= 500ms)`);
  if (req.warmupMs < 0 || req.healMs < 0 || req.settleMs < 0) problems.push('phase durations must be >= 0');
  if (req.warmupMs + req.faultMs + req.healMs + req.settleMs > 30 * 60_000) problems.push('the phases add up to more than 30 minutes');
  if (!Number.isInteger(req.clients) || req.clients < 1 || req.clients > 256) problems.push(`clients must be 1..256, got ${req.clients}`);
  if (!Number.isInteger(req.keys) || req.keys < 1 || req.keys > 1_000_000) problems.push(`keys must be 1..1000000, got ${req.keys}`);
  if (!(req.readRatio >= 0 && req.readRatio <= 1)) problems.push(`read ratio must be 0..1, got ${req.readRatio}`);
  if (!Number.isInteger(req.seed) || req.seed < 0 || req.seed > 2 ** 32 - 1) problems.push(`seed must be an integer 0..4294967295, got ${req.seed}`);
  if (req.shortTtlSeconds < 1) problems.push('short TTL must be >= 1 s');
  if (!(req.opsPerSecond >= 0 && req.opsPerSecond <= 1_000_000)) problems.push(`rate must be 0..1000000 ops/s, got ${req.opsPerSecond}`);
  if (!(req.proxyTimeoutMs >= 10 && req.proxyTimeoutMs <= 60_000)) problems.push(`proxy timeout must be 10ms..60s, got ${req.proxyTimeoutMs} ms`);
  if (!Number.isInteger(req.shard) || req.shard < 0 || req.shard > 15) problems.push(`shard must be an integer 0..15, got ${req.shard}`);
  if (req.switchAfterMs !== undefined) {
    if (req.scenario !== 'master-down') problems.push('--switch-after applies to master-down only');
    if (req.switchAfterMs >= req.faultMs) problems.push(`--switch-after (${req.switchAfterMs} ms) must fall inside the fault (${req.faultMs} ms): the switch happens during the outage`);
  }
  if (problems.length) throw usageError(`invalid chaos scenario: ${problems.join('; ')}`, 'fix the flag or YAML field named above', { problems });
  return req;
}

const duration = z.union([z.string(), z.number()]);

/** The YAML file format (examples/*.yaml). Every field but `scenario` is optional. */
export const scenarioFileSchema = z
  .object({
    scenario: z.enum(SCENARIOS),
    fault: z.enum(['partition', 'crash', 'reply-lost', 'slow']).optional(),
    mitigation: z.union([z.enum(MITIGATION_CHOICES), z.array(z.enum(['none', 'proxy-delete', 'client-short-ttl'])).min(1)]).optional(),
    seed: z.number().int().min(0).max(2 ** 32 - 1).optional(),
    phases: z
      .object({ warmup: duration.optional(), fault: duration.optional(), heal: duration.optional(), settle: duration.optional() })
      .strict()
      .optional(),
    workload: z
      .object({
        clients: z.number().int().optional(),
        keys: z.number().int().optional(),
        readRatio: z.number().optional(),
        rate: z.number().min(0).optional(),
      })
      .strict()
      .optional(),
    readPolicy: z.enum(['master', 'slave', 'balanced']).optional(),
    shortTtl: duration.optional(),
    proxyTimeout: duration.optional(),
    switchAfter: duration.optional(),
    shard: z.number().int().min(0).optional(),
    expect: z.array(z.string()).optional(),
    junit: z.string().optional(),
  })
  .strict();
export type ScenarioFile = z.infer<typeof scenarioFileSchema>;

export function defaultRequest(scenario: ScenarioKind): ScenarioRequest {
  return {
    scenario,
    fault: 'partition',
    mitigations: ['none'],
    ...DEFAULT_PHASES,
    seed: 1,
    clients: 8,
    keys: 1000,
    readRatio: 0.8,
    // balanced: reads are spread over both replicas as in production under load, so the slave
    // serves its (stale) copy during the outage even before the proxy marks the master down.
    readPolicy: 'balanced',
    shortTtlSeconds: 2,
    proxyTimeoutMs: 200,
    // A steady, bounded load: comparable runs on a busy 2-core machine, and keys are not all
    // rewritten within milliseconds of the heal.
    opsPerSecond: 2000,
    shard: 0,
    expect: [],
  };
}

export function requestFromFile(doc: ScenarioFile): ScenarioRequest {
  const req = defaultRequest(doc.scenario);
  if (doc.fault) req.fault = doc.fault;
  if (doc.mitigation) req.mitigations = Array.isArray(doc.mitigation) ? [...new Set(doc.mitigation)] : expandMitigation(doc.mitigation);
  if (doc.seed !== undefined) req.seed = doc.seed;
  if (doc.phases?.warmup !== undefined) req.warmupMs = parseDuration(doc.phases.warmup, 'phases.warmup');
  if (doc.phases?.fault !== undefined) req.faultMs = parseDuration(doc.phases.fault, 'phases.fault');
  if (doc.phases?.heal !== undefined) req.healMs = parseDuration(doc.phases.heal, 'phases.heal');
  if (doc.phases?.settle !== undefined) req.settleMs = parseDuration(doc.phases.settle, 'phases.settle');
  if (doc.workload?.clients !== undefined) req.clients = doc.workload.clients;
  if (doc.workload?.keys !== undefined) req.keys = doc.workload.keys;
  if (doc.workload?.readRatio !== undefined) req.readRatio = doc.workload.readRatio;
  if (doc.workload?.rate !== undefined) req.opsPerSecond = doc.workload.rate;
  if (doc.readPolicy) req.readPolicy = doc.readPolicy;
  if (doc.shortTtl !== undefined) req.shortTtlSeconds = Math.max(1, Math.round(parseDuration(doc.shortTtl, 'shortTtl') / 1000));
  if (doc.proxyTimeout !== undefined) req.proxyTimeoutMs = parseDuration(doc.proxyTimeout, 'proxyTimeout');
  if (doc.switchAfter !== undefined) req.switchAfterMs = parseDuration(doc.switchAfter, 'switchAfter');
  if (doc.shard !== undefined) req.shard = doc.shard;
  if (doc.expect) req.expect = doc.expect;
  if (doc.junit) req.junit = doc.junit;
  return validateRequest(req);
}

/** Load and validate a scenario YAML file; errors name the file, the field and what is allowed. */
export function loadScenarioFile(file: string): ScenarioRequest {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CachectlError('CONFIG_NOT_FOUND', `cannot read scenario file ${file}: ${(err as Error).message}`, { hint: 'pass a path to a YAML file, e.g. examples/master-down-all.yaml' });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : '';
    throw new CachectlError('CONFIG_INVALID', `${file} is not valid YAML${where}: ${(err as Error).message.split('\n')[0]}`, { hint: 'fix the YAML syntax' });
  }
  const parsed = scenarioFileSchema.safeParse(doc);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const field = i.path.join('.') || '(root)';
      const allowed = i.code === 'invalid_enum_value' ? ` (allowed: ${i.options.join(', ')})` : i.code === 'unrecognized_keys' ? ` (unknown: ${i.keys.join(', ')})` : '';
      return `${field}: ${i.message}${allowed}`;
    });
    throw new CachectlError('CONFIG_INVALID', `invalid scenario file ${file}:\n  ${lines.join('\n  ')}`, {
      hint: 'see examples/*.yaml for the format',
      details: { file, problems: lines },
    });
  }
  try {
    return requestFromFile(parsed.data);
  } catch (err) {
    if (err instanceof CachectlError) throw new CachectlError(err.code, `${file}: ${err.message}`, { hint: err.hint, details: err.details });
    throw err;
  }
}

/** The command line that replays a request (printed with every result). */
export function replayCommand(req: ScenarioRequest): string {
  const parts = ['cachectl', 'chaos', req.scenario];
  if (req.scenario === 'master-down') parts.push('--fault', req.fault);
  if (req.scenario === 'master-down' || req.scenario === 'slave-down' || req.scenario === 'slave-slow' || req.scenario === 'flapping') {
    parts.push('--mitigation', req.mitigations.length === 3 ? 'all' : req.mitigations[0]);
  }
  parts.push('--seed', String(req.seed));
  parts.push('--warmup', formatDuration(req.warmupMs), '--fault-duration', formatDuration(req.faultMs), '--heal', formatDuration(req.healMs), '--settle', formatDuration(req.settleMs));
  parts.push('--clients', String(req.clients), '--keys', String(req.keys), '--rate', String(req.opsPerSecond));
  const d = defaultRequest(req.scenario);
  if (req.readRatio !== d.readRatio) parts.push('--read-ratio', String(req.readRatio));
  if (req.readPolicy !== d.readPolicy) parts.push('--read-policy', req.readPolicy);
  if (req.shortTtlSeconds !== d.shortTtlSeconds) parts.push('--short-ttl', `${req.shortTtlSeconds}s`);
  if (req.proxyTimeoutMs !== d.proxyTimeoutMs) parts.push('--proxy-timeout', formatDuration(req.proxyTimeoutMs));
  if (req.switchAfterMs !== undefined) parts.push('--switch-after', formatDuration(req.switchAfterMs));
  if (req.shard) parts.push('--shard', String(req.shard));
  for (const e of req.expect) parts.push('--expect', `'${e}'`);
  return parts.join(' ');
}
