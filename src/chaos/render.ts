import type { ChalkInstance } from 'chalk';
import { table } from '../util/output.js';
import { formatMetric } from './expectations.js';
import type { ChaosRunResult, MitigationRun, SwitchResult } from './types.js';

/** Human text for chaos results (stdout). Plain words first, then the numbers. */

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

export function renderMatrix(runs: MitigationRun[]): string {
  const rows: Array<[string, (r: MitigationRun) => string | number]> = [
    ['stale reads (all)', (r) => r.metrics.staleReads],
    ['  during the outage', (r) => r.metrics.staleReadsDuringFault],
    ['  after the heal', (r) => r.metrics.staleReadsAfterHeal],
    ['divergent keys at heal', (r) => r.metrics.divergentKeysAtHeal],
    ['  stale on the slave', (r) => r.metrics.slaveStaleKeysAtHeal],
    ['  stale on the master', (r) => r.metrics.masterStaleKeysAtHeal],
    ['divergent keys at the end', (r) => r.metrics.divergentKeys],
    ['acked writes missing', (r) => r.metrics.missingAckedWrites],
    ['lost updates', (r) => r.metrics.lostUpdates],
    ['hit rate', (r) => pct(r.metrics.hitRate)],
    ['database reads', (r) => r.metrics.dbReads],
    ['failed writes', (r) => r.metrics.failedWrites],
    ['unknown outcomes', (r) => r.metrics.unknownOutcomes],
    ['short-TTL writes to slave', (r) => r.metrics.slaveWritesDuringFault],
    ['operations', (r) => r.metrics.operations],
    ['run time', (r) => `${(r.durationMs / 1000).toFixed(1)}s`],
    ['verdict', (r) => r.verdict],
  ];
  return table(
    ['', ...runs.map((r) => r.label)],
    rows.map(([name, get]) => [name, ...runs.map((r) => String(get(r)))]),
  );
}

export function renderSwitch(s: SwitchResult, color?: ChalkInstance): string {
  const ok = s.ok ? (color ? color.green('ok') : 'ok') : color ? color.red(s.outcome) : s.outcome;
  const lines = [
    `switch ${s.outcome} [${ok}] in ${s.durationMs} ms: epoch ${s.fromEpoch} -> ${s.toEpoch}; master ${s.newMaster}, slave ${s.newSlave ?? 'none (old master detached until it can be flushed: `cachectl switch --rejoin`)'}`,
    ...s.steps.map((st) => `  ${st.ok ? '✓' : '✗'} ${st.step}${st.epoch !== undefined ? ` @${st.epoch}` : ''} (${st.durationMs} ms): ${st.message}`),
    table(
      ['proxy', 'admin', 'epoch', 'master', 'slave', 'fenced'],
      s.proxies.map((p) => [p.name, p.admin, p.epoch ?? 'n/a', p.master ?? 'n/a', p.slave ?? 'none', p.writesFenced === null ? 'n/a' : String(p.writesFenced)]),
    ),
    ...s.verification.messages.map((m) => `  verify: ${m}`),
  ];
  return lines.join('\n');
}

export function renderChaosResult(result: ChaosRunResult, color?: ChalkInstance): string {
  const c = color;
  const out: string[] = [];
  out.push(`${c ? c.bold(`chaos ${result.scenario}`) : `chaos ${result.scenario}`}: ${result.title}`);
  out.push(`seed ${result.seed}; replay: ${result.replay}`);
  const cfg = result.config;
  out.push(
    `phases: warm-up ${cfg.warmupMs / 1000}s, fault ${cfg.faultMs / 1000}s, heal ${cfg.healMs / 1000}s, settle ${cfg.settleMs / 1000}s; ${cfg.clients} clients, ${cfg.keys} keys, read policy ${cfg.readPolicy}, proxy timeout ${cfg.proxyTimeoutMs} ms; cluster "${cfg.cluster.name}" (${cfg.cluster.runtime}${cfg.cluster.ephemeral ? ', ephemeral' : ''})`,
  );
  out.push('');
  for (const run of result.runs) {
    out.push(`${c ? c.bold(`[${run.label}]`) : `[${run.label}]`} ${run.verdict} (run time ${(run.durationMs / 1000).toFixed(1)}s)`);
    for (const f of run.findings) out.push(`  ${f}`);
    if (run.switch) out.push(renderSwitch(run.switch, color).replace(/^/gm, '  '));
    out.push('');
  }
  if (result.runs.length > 1) {
    out.push(renderMatrix(result.runs));
    out.push('');
  }
  for (const e of result.expectations) {
    const mark = e.passed ? (c ? c.green('PASS') : 'PASS') : c ? c.red('FAIL') : 'FAIL';
    out.push(`${mark} ${e.run}: ${e.rule.replace(/^[a-z0-9-]+\./, '')} (measured ${formatMetric(e.actual)})`);
  }
  out.push(`${result.interrupted ? 'interrupted; ' : ''}scenario run time ${(result.durationMs / 1000).toFixed(1)}s; verdict ${result.verdict === 'pass' ? (c ? c.green('pass') : 'pass') : c ? c.red('fail') : 'fail'}`);
  return out.join('\n');
}
