/**
 * Escaping and SVG path building for the HTML report. Everything user-controlled (keys, rules,
 * labels, error text) goes through escapeHtml/escapeAttr, and JSON embedded in a <script> goes
 * through jsonForScript, so a key like `</script><script>alert(1)</script>` stays text.
 */

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/** Attribute values are always double-quoted by the renderer; escaping is the same set. */
export const escapeAttr = escapeHtml;

/**
 * JSON that is safe inside <script type="application/json">: no "<" (so no "</script>" or
 * "<!--"), and no U+2028/U+2029, which older parsers treat as line ends.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** Two decimals are plenty at screen resolution and keep the file small. */
export function fmtCoord(n: number): string {
  const r = Math.round(n * 100) / 100;
  return Object.is(r, -0) ? '0' : String(r);
}

export interface Point {
  x: number;
  /** null = no data: the line breaks here instead of drawing a false zero */
  y: number | null;
}

/** Pen moves through the drawable points (M to start, L to continue), lifting at null or non-finite values. */
function tracePath(points: Point[], afterPoint?: (x: number, y: number) => string): string {
  const parts: string[] = [];
  let penDown = false;
  for (const p of points) {
    if (p.y === null || !Number.isFinite(p.y) || !Number.isFinite(p.x)) {
      penDown = false;
      continue;
    }
    parts.push(`${penDown ? 'L' : 'M'}${fmtCoord(p.x)} ${fmtCoord(p.y)}`);
    if (afterPoint) parts.push(afterPoint(p.x, p.y));
    penDown = true;
  }
  return parts.join('');
}

/** A polyline path "M x y L x y ..." that breaks (new M) across null values. Empty when no point. */
export function linePath(points: Point[]): string {
  return tracePath(points);
}

/**
 * A step path for per-second counts: each value holds for its whole second [x, x+width),
 * which is what a per-second bucket means. Breaks across nulls like linePath.
 */
export function stepPath(points: Point[], width: number): string {
  return tracePath(points, (x, y) => `L${fmtCoord(x + width)} ${fmtCoord(y)}`);
}

/** A closed area under a step path down to baseY, one polygon per unbroken run of values. */
export function stepAreaPath(points: Point[], width: number, baseY: number): string {
  const runs: Point[][] = [];
  let current: Point[] = [];
  for (const p of points) {
    if (p.y === null || !Number.isFinite(p.y)) {
      if (current.length) runs.push(current);
      current = [];
    } else current.push(p);
  }
  if (current.length) runs.push(current);
  return runs
    .map((run) => {
      const top = stepPath(run, width).replace(/^M/, 'L');
      const first = run[0];
      const last = run[run.length - 1];
      return `M${fmtCoord(first.x)} ${fmtCoord(baseY)}${top}L${fmtCoord(last.x + width)} ${fmtCoord(baseY)}Z`;
    })
    .join('');
}

/** An element with attributes; attribute values escaped, children passed as already-safe markup. */
export function el(tag: string, attrs: Record<string, string | number | undefined | null>, children = ''): string {
  const a = Object.entries(attrs)
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => ` ${k}="${escapeAttr(typeof v === 'number' ? fmtCoord(v) : v)}"`)
    .join('');
  return `<${tag}${a}>${children}</${tag}>`;
}
