import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `npm run soak`: the reliability tier at soak size, bounded in time, printing its figures.
 * Runs the same tests as CI with bigger knobs: more fuzz inputs, a black-holed slave for minutes,
 * the whole fault matrix with longer phases; then shutdown and admin-API checks. Each step has a
 * hard time limit. Figures (lines tagged [fuzz] [bounds] [matrix] [shutdown] [admin] and the
 * matrix table) go to stdout and to soak-results/<timestamp>.md.
 *
 *   npm run soak                        full soak (about 10 minutes on 2 cores)
 *   npm run soak -- --quick             CI-sized, for a smoke run
 *   npm run soak -- --seed 1234         replay fuzz and matrix seeds
 */

const ROOT = resolve(fileURLToPath(new URL('../', import.meta.url)));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const seedArg = args.indexOf('--seed');
const seed = seedArg >= 0 ? Number(args[seedArg + 1]) : Math.floor(Math.random() * 1e6);
if (!Number.isInteger(seed) || seed < 0) {
  console.error(`--seed must be a non-negative integer, got ${args[seedArg + 1]}`);
  process.exit(2);
}

interface Step {
  name: string;
  file: string;
  env: Record<string, string>;
  limitMs: number;
}

const matrixOut = join(ROOT, 'soak-results', 'matrix-latest.md');
const steps: Step[] = [
  { name: 'protocol fuzzing', file: 'test/reliability/protocol-fuzz.int.test.ts', env: { CACHECTL_FUZZ_RUNS: quick ? '120' : '600', CACHECTL_FUZZ_SEED: String(seed) }, limitMs: 15 * 60_000 },
  { name: 'resource bounds', file: 'test/reliability/resource-bounds.int.test.ts', env: { CACHECTL_BLACKHOLE_MS: quick ? '10000' : '120000' }, limitMs: 10 * 60_000 },
  {
    name: 'fault matrix',
    file: 'test/reliability/fault-matrix.int.test.ts',
    env: { CACHECTL_MATRIX_SEED: String(seed), CACHECTL_MATRIX_PHASES: quick ? '700,1300,1200' : '1500,4000,2500', CACHECTL_MATRIX_OUT: matrixOut },
    limitMs: 15 * 60_000,
  },
  { name: 'graceful shutdown', file: 'test/reliability/shutdown.int.test.ts', env: {}, limitMs: 3 * 60_000 },
  { name: 'admin API', file: 'test/reliability/admin-api.int.test.ts', env: {}, limitMs: 3 * 60_000 },
  { name: 'fixes regression', file: 'test/reliability/proxy-fixes.int.test.ts', env: {}, limitMs: 3 * 60_000 },
];

function runStep(step: Step): Promise<{ ok: boolean; figures: string[]; ms: number }> {
  const started = Date.now();
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--project', 'integration', step.file], {
      cwd: ROOT,
      env: { ...process.env, ...step.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const figures: string[] = [];
    let buffered = '';
    const onData = (d: Buffer): void => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (/^\[(fuzz|bounds|matrix|shutdown|admin)\]|^\|/.test(line)) {
          figures.push(line);
          console.log(line);
        } else if (/✓|×|FAIL|Tests\s/.test(line)) console.log(`  ${line.trim()}`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    // every step is bounded: past its limit the whole process group goes
    const timer = setTimeout(() => {
      console.log(`  ${step.name}: over its ${step.limitMs / 60_000} min limit, stopped`);
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, step.limitMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolvePromise({ ok: code === 0, figures, ms: Date.now() - started });
    });
  });
}

const startedAt = new Date();
console.log(`soak ${quick ? '(quick) ' : ''}seed ${seed} (replay: npm run soak -- --seed ${seed}${quick ? ' --quick' : ''}), started ${startedAt.toISOString()}`);
mkdirSync(join(ROOT, 'soak-results'), { recursive: true });
const report: string[] = [`# soak ${startedAt.toISOString()} (seed ${seed}${quick ? ', quick' : ''})`, ''];
let failed = 0;
for (const step of steps) {
  console.log(`\n== ${step.name} (${step.file})`);
  const r = await runStep(step);
  console.log(`== ${step.name}: ${r.ok ? 'ok' : 'FAILED'} in ${(r.ms / 1000).toFixed(1)} s`);
  if (!r.ok) failed++;
  report.push(`## ${step.name}: ${r.ok ? 'ok' : 'FAILED'} in ${(r.ms / 1000).toFixed(1)} s`, '', ...r.figures, '');
}
const file = join(ROOT, 'soak-results', `${startedAt.toISOString().replace(/[:.]/g, '-')}.md`);
writeFileSync(file, `${report.join('\n')}\n`);
console.log(`\nsoak ${failed === 0 ? 'passed' : `FAILED (${failed} steps)`} in ${((Date.now() - startedAt.getTime()) / 60_000).toFixed(1)} min; figures in ${file}`);
process.exit(failed === 0 ? 0 : 1);
