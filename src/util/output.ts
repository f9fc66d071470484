import chalk, { Chalk, type ChalkInstance } from 'chalk';

/**
 * Where human output goes: results to stdout, progress and warnings to stderr.
 * Colour only on a terminal, and never when NO_COLOR is set.
 */
export interface Output {
  result(line: string): void;
  progress(line: string): void;
  warn(line: string): void;
  readonly color: ChalkInstance;
  readonly isTTY: boolean;
}

export function colorEnabled(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return Boolean(stream.isTTY);
}

export function createOutput(opts: { quiet?: boolean } = {}): Output {
  const color = colorEnabled(process.stdout) ? chalk : new Chalk({ level: 0 });
  const errColor = colorEnabled(process.stderr) ? chalk : new Chalk({ level: 0 });
  return {
    color,
    isTTY: Boolean(process.stderr.isTTY),
    result: (line) => process.stdout.write(line + '\n'),
    progress: (line) => {
      if (!opts.quiet) process.stderr.write(line + '\n');
    },
    warn: (line) => process.stderr.write(errColor.yellow('warning: ') + line + '\n'),
  };
}

/** Render rows as an aligned plain-text table (no colour codes inside cells). */
export function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => String(c)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => (c ?? '').padEnd(widths[i])).join('  ').trimEnd();
  return [line(cells[0]), line(widths.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)].join('\n');
}
