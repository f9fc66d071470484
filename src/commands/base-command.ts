import { Command, Flags, Interfaces } from '@oclif/core';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { CachectlError, ExitCode, isCachectlError } from '../errors.js';
import { createOutput, type Output } from '../util/output.js';

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>;
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>;

/**
 * Every cachectl command: --json, --config, consistent error mapping to DESIGN.md exit codes.
 * Commands stay thin: parse, one library call, print the typed result (which is also the --json output).
 */
export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true;

  static override baseFlags = {
    config: Flags.string({
      char: 'c',
      description: 'config file (default: ./cachectl.yaml when present; env CACHECTL_CONFIG)',
      helpGroup: 'GLOBAL',
    }),
    'state-dir': Flags.string({
      description: 'where the cluster state file lives (default .cachectl)',
      helpGroup: 'GLOBAL',
    }),
    name: Flags.string({
      description: 'cluster name, to run several clusters side by side (default "default")',
      helpGroup: 'GLOBAL',
    }),
  };

  protected flags!: BaseFlags<T>;
  protected args!: BaseArgs<T>;
  protected out!: Output;

  public override async init(): Promise<void> {
    await super.init();
    const { args, flags } = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (super.ctor as typeof BaseCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      args: this.ctor.args,
      strict: this.ctor.strict,
    });
    this.flags = flags as BaseFlags<T>;
    this.args = args as BaseArgs<T>;
    this.out = createOutput({ quiet: this.jsonEnabled() });
  }

  /** Load config with the global flags plus command-specific overrides (a partial config). */
  protected loadConfig(overrides: Record<string, unknown> = {}): LoadedConfig {
    const f = this.flags as Record<string, unknown>;
    return loadConfig({
      file: f.config as string | undefined,
      overrides: {
        ...(f['state-dir'] ? { stateDir: f['state-dir'] } : {}),
        ...(f.name ? { name: f.name } : {}),
        ...overrides,
      },
    });
  }

  /** Finish with a result and an exit code (e.g. 1 when an expectation failed); the result still prints as JSON. */
  protected finish<R>(result: R, exitCode: number = ExitCode.OK): R {
    if (exitCode !== ExitCode.OK) process.exitCode = exitCode;
    return result;
  }

  public override async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    if (isCachectlError(err)) {
      process.exitCode = err.exitCode;
      if (this.jsonEnabled()) {
        this.logJson({ error: err.toJSON() });
      } else {
        const c = this.out?.color;
        process.stderr.write(`${c ? c.red('error') : 'error'}: ${err.message}\n`);
        if (err.hint) process.stderr.write(`  ${c ? c.dim('next:') : 'next:'} ${err.hint}\n`);
      }
      return undefined;
    }
    // oclif's own parse errors (bad flag, missing arg) are usage errors: exit 2.
    const name = err.constructor?.name ?? '';
    if (/Parse|Flag|Arg|Required|Unexpected|Nonexistent|Failed/.test(name) || err.oclif?.exit === 2) {
      process.exitCode = ExitCode.USAGE;
      if (this.jsonEnabled()) {
        this.logJson({ error: { code: 'USAGE', message: err.message, hint: `run: cachectl ${this.id ?? ''} --help` } });
        return undefined;
      }
      process.stderr.write(`error: ${err.message}\n  next: run \`cachectl ${this.id?.replaceAll(':', ' ') ?? ''} --help\`\n`);
      return undefined;
    }
    if (err.oclif?.exit !== undefined) return super.catch(err);
    const internal = new CachectlError('INTERNAL', err.message || String(err), {
      hint: 'this is a cachectl bug: please report it with the command you ran',
    });
    process.exitCode = internal.exitCode;
    if (this.jsonEnabled()) this.logJson({ error: internal.toJSON() });
    else process.stderr.write(`error: ${internal.message}\n${err.stack ?? ''}\n`);
    return undefined;
  }
}
