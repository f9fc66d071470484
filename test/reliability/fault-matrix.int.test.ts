import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAULTS, MITIGATIONS, MatrixStack, matrixTable, runCell, type CellResult, type Fault, type Phases } from './fault-matrix.js';

/**
 * Every fault kind x every mitigation x both client protocols (binary through memjs and ASCII run
 * side by side in each cell), a few seconds per cell. Prints the table; the soak script runs the
 * same matrix with longer phases and writes it to docs/reliability.md.
 *
 *   CACHECTL_MATRIX_SEED=<n>      replay          CACHECTL_MATRIX_FAULTS=partition,crash   subset
 *   CACHECTL_MATRIX_OUT=<file>    write the markdown table there
 *   CACHECTL_MATRIX_PHASES=warm,fault,settle   phase lengths in ms (default 700,1300,1200)
 */

const SEED = Number(process.env.CACHECTL_MATRIX_SEED ?? Math.floor(Math.random() * 1e6));
const FAULT_LIST = (process.env.CACHECTL_MATRIX_FAULTS?.split(',') ?? [...FAULTS]) as Fault[];
const [warmMs, faultMs, settleMs] = (process.env.CACHECTL_MATRIX_PHASES ?? '700,1300,1200').split(',').map(Number);
const PHASES: Phases = { warmMs, faultMs, settleMs };

let stack: MatrixStack;
const cells: CellResult[] = [];
const started = Date.now();

beforeAll(async () => {
  console.log(`[matrix] seed ${SEED} (replay: CACHECTL_MATRIX_SEED=${SEED}); phases ${JSON.stringify(PHASES)}`);
  stack = await MatrixStack.start();
});

afterAll(async () => {
  const table = matrixTable(cells);
  console.log(`[matrix] ${cells.length} cells in ${((Date.now() - started) / 1000).toFixed(1)} s (seed ${SEED})\n${table}`);
  if (process.env.CACHECTL_MATRIX_OUT) writeFileSync(process.env.CACHECTL_MATRIX_OUT, `${table}\n`);
  await stack?.stop();
});

describe('fault matrix: every fault x every mitigation x both protocols', () => {
  for (const fault of FAULT_LIST) {
    for (const mitigation of MITIGATIONS) {
      it(`${fault} / ${mitigation}`, async () => {
        const results = await runCell(stack, fault, mitigation, PHASES, SEED);
        cells.push(...results);
        for (const r of results) {
          const failed = r.expectations.filter((e) => !e.ok).map((e) => e.rule);
          expect(failed, `${fault}/${mitigation}/${r.protocol}: ${JSON.stringify({ ok: r.ok, fail: r.fail, unknown: r.unknown, stale: r.staleReads, staleDuringOutage: r.staleDuringOutage, masterStaleAtHeal: r.masterStaleAtHeal, divergent: r.divergence, lostUpdates: r.lostUpdates, overwritten: r.ackedOverwritten, okAfterHeal: r.okAfterHeal })}`).toEqual([]);
        }
      });
    }
  }
});
