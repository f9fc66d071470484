import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { CachectlError } from '../errors.js';
import { configSchema, type CachectlConfig } from './schema.js';

export const DEFAULT_CONFIG_FILE = 'cachectl.yaml';
export const ENV_PREFIX = 'CACHECTL_';

type Plain = Record<string, unknown>;

export interface LoadConfigOptions {
  /** explicit config file; an error when it does not exist */
  file?: string;
  /** working directory used to find cachectl.yaml and resolve stateDir */
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** overrides from flags, highest precedence (a partial config) */
  overrides?: Plain;
}

export interface LoadedConfig {
  config: CachectlConfig;
  /** where each layer came from, for messages */
  sources: string[];
}

/** camelCase path segment -> SCREAMING_SNAKE, e.g. readPolicy -> READ_POLICY */
function envSegment(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** Every leaf path of the schema with its zod type, to map CACHECTL_* names onto fields. */
function leafPaths(schema: z.ZodTypeAny, prefix: string[] = []): Array<{ path: string[]; type: z.ZodTypeAny }> {
  let inner = schema;
  while (inner instanceof z.ZodDefault || inner instanceof z.ZodOptional || inner instanceof z.ZodEffects) {
    inner = inner instanceof z.ZodEffects ? inner.innerType() : inner._def.innerType;
  }
  if (inner instanceof z.ZodObject) {
    return Object.entries(inner.shape as Record<string, z.ZodTypeAny>).flatMap(([k, v]) => leafPaths(v, [...prefix, k]));
  }
  return [{ path: prefix, type: inner }];
}

const LEAVES = leafPaths(configSchema);

function setPath(target: Plain, path: string[], value: unknown): void {
  let node = target;
  for (const seg of path.slice(0, -1)) {
    if (typeof node[seg] !== 'object' || node[seg] === null) node[seg] = {};
    node = node[seg] as Plain;
  }
  node[path[path.length - 1]] = value;
}

/** Read CACHECTL_* variables into a partial config; numbers are coerced where the field is a number. */
export function configFromEnv(env: NodeJS.ProcessEnv): Plain {
  const out: Plain = {};
  for (const leaf of LEAVES) {
    const name = envNameFor(leaf.path);
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    let value: unknown = raw;
    if (leaf.type instanceof z.ZodNumber) {
      value = /^-?\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : raw;
    }
    setPath(out, leaf.path, value);
  }
  return out;
}

function isPlain(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge; later layers win; undefined values in a layer are ignored. */
export function mergeLayers(...layers: Plain[]): Plain {
  const out: Plain = {};
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer)) {
      if (v === undefined) continue;
      out[k] = isPlain(v) && isPlain(out[k]) ? mergeLayers(out[k] as Plain, v) : isPlain(v) ? mergeLayers(v) : v;
    }
  }
  return out;
}

function describeAllowed(issue: z.ZodIssue): string {
  switch (issue.code) {
    case 'invalid_enum_value':
      return `allowed: ${issue.options.join(', ')}`;
    case 'invalid_type':
      return `expected ${issue.expected}`;
    case 'too_small':
      return `must be >= ${String(issue.minimum)}`;
    case 'too_big':
      return `must be <= ${String(issue.maximum)}`;
    case 'unrecognized_keys':
      return `unknown field(s) ${issue.keys.join(', ')}; see the README's configuration section`;
    default:
      return issue.message;
  }
}

function valueAt(input: unknown, path: Array<string | number>): unknown {
  let node = input;
  for (const seg of path) {
    if (!isPlain(node) && !Array.isArray(node)) return undefined;
    node = (node as Record<string | number, unknown>)[seg];
  }
  return node;
}

/** The CACHECTL_* variable that maps onto a config field path, e.g. proxy.readPolicy -> CACHECTL_PROXY_READ_POLICY. */
export function envNameFor(path: ReadonlyArray<string | number>): string {
  return ENV_PREFIX + path.map((seg) => envSegment(String(seg))).join('_');
}

/** Names where a bad value came from ("CACHECTL_PORTS_MASTER", "a flag", a file), for error messages. */
export type OriginOf = (path: Array<string | number>) => string | undefined;

/** Validate a merged config object; throws CONFIG_INVALID naming each bad field, its value and what is allowed. */
export function validateConfig(input: unknown, sources: string[] = [], originOf?: OriginOf): CachectlConfig {
  const parsed = configSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const field = issue.path.join('.') || '(root)';
    const value = issue.code === 'unrecognized_keys' ? undefined : valueAt(input, issue.path);
    const got = value === undefined ? '' : `: got ${JSON.stringify(value)}`;
    // For an unknown key, ask where the key itself came from.
    const source = originOf?.(issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : issue.path);
    const from = source ? ` (from ${source})` : '';
    return { field, value, ...(source ? { source } : {}), message: `${field}${got}${from}; ${describeAllowed(issue)}` };
  });
  const from = sources.length ? ` (from ${sources.join(', ')})` : '';
  throw new CachectlError('CONFIG_INVALID', `invalid configuration${from}:\n  ${problems.map((p) => p.message).join('\n  ')}`, {
    hint: 'fix the field(s) above in cachectl.yaml, the CACHECTL_* variable or the flag',
    details: { problems },
  });
}

export function readConfigFile(file: string): Plain {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CachectlError('CONFIG_NOT_FOUND', `cannot read config file ${file}: ${(err as Error).message}`, {
      hint: 'check the path given to --config',
      details: { file },
    });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : '';
    throw new CachectlError('CONFIG_INVALID', `${file} is not valid YAML${where}: ${(err as Error).message.split('\n')[0]}`, {
      hint: 'fix the YAML syntax',
      details: { file },
    });
  }
  if (doc === null || doc === undefined) return {};
  if (!isPlain(doc)) {
    throw new CachectlError('CONFIG_INVALID', `${file} must hold a mapping of settings, got ${Array.isArray(doc) ? 'a list' : typeof doc}`, {
      hint: 'see the README configuration section for an example',
      details: { file },
    });
  }
  return doc;
}

/** Load the configuration: defaults < cachectl.yaml < CACHECTL_* env < flags. */
export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const sources: string[] = [];
  let fileLayer: Plain = {};
  const explicit = options.file ?? env.CACHECTL_CONFIG;
  if (explicit) {
    const file = resolve(cwd, explicit);
    fileLayer = readConfigFile(file);
    sources.push(file);
  } else {
    const file = resolve(cwd, DEFAULT_CONFIG_FILE);
    if (existsSync(file)) {
      fileLayer = readConfigFile(file);
      sources.push(file);
    }
  }
  const envLayer = configFromEnv(env);
  if (Object.keys(envLayer).length) sources.push('CACHECTL_* environment');
  const flagLayer = options.overrides ?? {};
  if (Object.keys(flagLayer).length) sources.push('flags');
  const fileName = sources.find((src) => src !== 'CACHECTL_* environment' && src !== 'flags');
  const originOf: OriginOf = (path) => {
    // The highest layer holding a value at this path set it (flags leave unset fields undefined).
    if (valueAt(flagLayer, path) !== undefined) return 'a flag';
    if (valueAt(envLayer, path) !== undefined) return envNameFor(path);
    if (valueAt(fileLayer, path) !== undefined) return fileName;
    return undefined;
  };
  const config = validateConfig(mergeLayers(fileLayer, envLayer, flagLayer), sources, originOf);
  return { config: { ...config, stateDir: resolve(cwd, config.stateDir) }, sources };
}
