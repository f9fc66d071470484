import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toReportInput } from '../../src/report/adapt.js';
import { buildChartSpecs } from '../../src/report/charts.js';
import { renderHtmlReport } from '../../src/report/html.js';
import type { ReportInput } from '../../src/report/types.js';
import { chromiumMissingReason, launchChromium, type LaunchedBrowser } from './browser.js';

/**
 * The HTML report of REAL recorded runs (test/report/fixtures/*.json, written by the real CLI:
 * `cachectl chaos master-down ... --json`), opened in real headless Chromium: the charts are drawn,
 * fault windows shaded, no console error, no network request, and a screenshot is taken
 * (kept in $CACHECTL_REPORT_SCREENSHOTS or a temp folder; the path is printed).
 */

// CACHECTL_REPORT_FIXTURES points the test at other recorded runs (e.g. a fresh one from CI).
const FIXTURES = process.env.CACHECTL_REPORT_FIXTURES ?? join(import.meta.dirname, 'fixtures');
const fixtures = existsSync(FIXTURES) ? readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).sort() : [];
const missing = chromiumMissingReason();
if (missing) console.warn(`SKIPPED report browser tests: ${missing}`);

const out = process.env.CACHECTL_REPORT_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'cachectl-report-'));
mkdirSync(out, { recursive: true });
let chrome: LaunchedBrowser | undefined;

beforeAll(async () => {
  if (!missing) chrome = await launchChromium();
}, 60_000);
afterAll(async () => {
  await chrome?.close();
  if (!process.env.CACHECTL_REPORT_SCREENSHOTS) console.log(`report screenshots: ${out}`);
});

describe.skipIf(Boolean(missing))('HTML report in headless Chromium', () => {
  it('has at least one real recorded run to render', () => {
    expect(fixtures.length).toBeGreaterThan(0);
  });

  for (const fixture of fixtures) {
    it(`renders ${fixture}: charts drawn, windows shaded, no console error, no network`, async () => {
      const input: ReportInput = toReportInput(JSON.parse(readFileSync(join(FIXTURES, fixture), 'utf8')), fixture);
      const html = renderHtmlReport(input);
      const file = join(out, fixture.replace(/\.json$/, '.html'));
      writeFileSync(file, html);

      const page = await chrome!.context.newPage();
      const problems: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      page.on('request', (r) => {
        if (!r.url().startsWith('file://')) requests.push(r.url());
      });
      try {
        await page.setViewportSize({ width: 1366, height: 850 }); // a laptop
        await page.goto(`file://${file}`, { waitUntil: 'load' });

        // Six charts, each with one drawn path per series line (a real "d", not the empty placeholder).
        const charts = page.locator('svg.chart-svg');
        await expect.poll(() => charts.count()).toBe(buildChartSpecs(input.series).length);
        expect(buildChartSpecs(input.series).length).toBeGreaterThanOrEqual(6);
        const series = input.series.length;
        const pathCounts = await page.$$eval('svg.chart-svg', (svgs) =>
          svgs.map((s) => ({
            id: s.getAttribute('data-chart'),
            drawn: [...s.querySelectorAll('path.series-line')].filter((p) => (p.getAttribute('d') ?? '').includes('L')).length,
            total: s.querySelectorAll('path.series-line').length,
          })),
        );
        for (const c of pathCounts) {
          expect(c.total, c.id!).toBeGreaterThanOrEqual(series);
          expect(c.drawn, c.id!).toBeGreaterThanOrEqual(series);
        }
        // The fault window is shaded in every chart, with a visible label, for a chaos run.
        if (input.series.some((s) => s.windows.some((w) => w.kind === 'fault'))) {
          const shaded = await page.$$eval('svg.chart-svg', (svgs) => svgs.map((s) => s.querySelectorAll('rect.window-fault').length));
          expect(shaded.every((n) => n >= 1)).toBe(true);
          const box = await page.locator('svg.chart-svg rect.window-fault').first().boundingBox();
          expect(box!.width).toBeGreaterThan(10);
          await expect.poll(() => page.locator('text.window-label').first().textContent()).toMatch(/fault/);
        }
        // Rendered size: the charts fill the laptop-width layout and are not squashed.
        const chartBox = await charts.first().boundingBox();
        expect(chartBox!.width).toBeGreaterThan(900);
        expect(chartBox!.height).toBeGreaterThan(120);
        // Verdict, seed and replay command are on the page.
        const text = await page.locator('body').innerText();
        expect(text).toContain(input.replayCommand);
        if (input.seed !== null) expect(text).toContain(String(input.seed));
        if (series > 1) await expect.poll(() => page.locator('table.matrix tbody tr').count()).toBeGreaterThan(4);

        // Hovering a chart shows per-second values in the tooltip (the inline script works).
        const stale = page.locator('#chart-stale svg.chart-svg');
        await stale.scrollIntoViewIfNeeded();
        const sb = await stale.boundingBox();
        await page.mouse.move(sb!.x + sb!.width * 0.45, sb!.y + sb!.height * 0.5);
        await expect.poll(() => page.locator('#tooltip').isVisible()).toBe(true);
        expect(await page.locator('#tooltip').innerText()).toMatch(/\d+s – \d+s/);

        await page.mouse.move(0, 0);
        const png = join(out, fixture.replace(/\.json$/, '.png'));
        await page.screenshot({ path: png, fullPage: true });
        expect(statSync(png).size).toBeGreaterThan(20_000);
        // Print: the print stylesheet applies and the page lays out to PDF.
        await page.emulateMedia({ media: 'print' });
        expect(await page.locator('button.copy').first().isVisible()).toBe(false);
        const pdf = await page.pdf({ format: 'A4' });
        expect(pdf.subarray(0, 4).toString()).toBe('%PDF');

        expect(problems).toEqual([]);
        expect(requests).toEqual([]);
      } finally {
        await page.close();
      }
    });
  }
});
