/**
 * Typed errors for library code. Each carries a stable code, the exit code the CLI maps it to
 * (DESIGN.md section 7), and a suggested next step for the user.
 */
export const ExitCode = {
  OK: 0,
  CONSISTENCY: 1,
  USAGE: 2,
  DEPENDENCY: 3,
  TIMEOUT: 4,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export type ErrorCode =
  | 'USAGE'
  | 'CONFIG_INVALID'
  | 'CONFIG_NOT_FOUND'
  | 'STATE_NOT_FOUND'
  | 'STATE_CONFLICT'
  | 'BINARY_MISSING'
  | 'DEPENDENCY_UNREACHABLE'
  | 'DEPENDENCY_FAILED'
  | 'PORT_IN_USE'
  | 'TIMEOUT'
  | 'EXPECTATION_FAILED'
  | 'CONSISTENCY'
  | 'UNSUPPORTED'
  | 'INTERNAL';

const exitCodeFor: Record<ErrorCode, ExitCodeValue> = {
  USAGE: ExitCode.USAGE,
  CONFIG_INVALID: ExitCode.USAGE,
  CONFIG_NOT_FOUND: ExitCode.USAGE,
  STATE_NOT_FOUND: ExitCode.USAGE,
  STATE_CONFLICT: ExitCode.USAGE,
  BINARY_MISSING: ExitCode.DEPENDENCY,
  DEPENDENCY_UNREACHABLE: ExitCode.DEPENDENCY,
  DEPENDENCY_FAILED: ExitCode.DEPENDENCY,
  PORT_IN_USE: ExitCode.DEPENDENCY,
  TIMEOUT: ExitCode.TIMEOUT,
  EXPECTATION_FAILED: ExitCode.CONSISTENCY,
  CONSISTENCY: ExitCode.CONSISTENCY,
  UNSUPPORTED: ExitCode.USAGE,
  INTERNAL: 70 as ExitCodeValue,
};

export interface CachectlErrorOptions {
  /** What the user should do next, one sentence. */
  hint?: string;
  /** Structured facts for --json output (field names, values, endpoints...). */
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class CachectlError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: CachectlErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CachectlError';
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
  }

  get exitCode(): ExitCodeValue {
    return exitCodeFor[this.code];
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

export function isCachectlError(err: unknown): err is CachectlError {
  return err instanceof CachectlError;
}

export function usageError(message: string, hint?: string, details?: Record<string, unknown>): CachectlError {
  return new CachectlError('USAGE', message, { hint, details });
}

export function timeoutError(what: string, ms: number, hint?: string): CachectlError {
  return new CachectlError('TIMEOUT', `timed out after ${ms} ms waiting for ${what}`, { hint, details: { what, ms } });
}
