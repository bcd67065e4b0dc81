import { hostname } from 'node:os';

import { HeraldError } from '../errors.js';
import { type Config, type ConfigKey, OPTIONS, type OptionSpec, envName, flagName } from './schema.js';

/** Options that were renamed: old key -> new key. Named in the error so upgrades are easy. */
const RENAMED: Readonly<Record<string, ConfigKey>> = {};

const KEYS = Object.keys(OPTIONS) as ConfigKey[];
const BY_ENV = new Map(KEYS.map((k) => [envName(k), k]));
const BY_FLAG = new Map(KEYS.map((k) => [flagName(k), k]));

/** Environment variables that start with HERALD_ but are not config (read by the CLI). */
const NON_CONFIG_ENV = new Set<string>();

/**
 * Builds the configuration from flags, then environment, then defaults
 * (flags win). Every value is checked against the schema; an error names the
 * key, the source it came from and what is allowed.
 */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv = {}, overrides: Partial<Record<ConfigKey, unknown>> = {}): Config {
  const raw = new Map<ConfigKey, { value: unknown; source: string }>();

  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('HERALD_') || value === undefined || NON_CONFIG_ENV.has(name)) continue;
    const key = BY_ENV.get(name);
    if (key === undefined) throw unknownKey(name, [...BY_ENV.keys()], (k) => envName(k));
    raw.set(key, { value, source: name });
  }

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      throw new HeraldError('HERALD_ERR_CONFIG_INVALID', `unexpected argument "${arg}": options are --key value or --key=value`);
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    const key = BY_FLAG.get(name);
    if (key === undefined) throw unknownKey(name, [...BY_FLAG.keys()], (k) => flagName(k));
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else if ((OPTIONS[key] as OptionSpec).kind === 'bool' && (argv[i + 1] === undefined || argv[i + 1]!.startsWith('--'))) value = 'true';
    else value = argv[++i];
    if (value === undefined) throw new HeraldError('HERALD_ERR_CONFIG_INVALID', `${name} needs a value`);
    raw.set(key, { value, source: name });
  }

  for (const [key, value] of Object.entries(overrides)) {
    if (!(key in OPTIONS)) throw new HeraldError('HERALD_ERR_CONFIG_UNKNOWN', `unknown configuration key "${key}"`);
    if (value !== undefined) raw.set(key as ConfigKey, { value, source: key });
  }

  const out: Record<string, unknown> = {};
  for (const key of KEYS) {
    const spec: OptionSpec = OPTIONS[key];
    const given = raw.get(key);
    out[key] = given === undefined ? spec.default : coerce(key, spec, given.value, given.source);
  }
  deriveDefaults(out);
  checkRelations(out as Config);
  return Object.freeze(out) as Config;
}

/**
 * Defaults that depend on the machine. A pod's hostname is its name, so a
 * local run and a pod without HERALD_POD_NAME still get a usable Lease name.
 */
function deriveDefaults(out: Record<string, unknown>): void {
  if (out.podName === '') out.podName = leaseName(hostname());
}

/** A hostname as a Lease name (an RFC 1123 subdomain): lower-cased, anything else becomes `-`. */
export function leaseName(host: string): string {
  const name = host.toLowerCase().replace(/[^a-z0-9.-]/g, '-').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '').slice(0, 253);
  return name === '' ? 'herald' : name;
}

/** Rules between keys. Each names both keys, so the fix is obvious. */
function checkRelations(c: Config): void {
  // A stream must hold a few of the largest events, or replaying history
  // (paced at a quarter of the bound) would shed the client it serves.
  if (c.maxConnectionBufferedBytes < 4 * c.maxEventBytes) {
    throw new HeraldError(
      'HERALD_ERR_CONFIG_INVALID',
      `maxConnectionBufferedBytes (${c.maxConnectionBufferedBytes}) must be at least 4 x maxEventBytes (${c.maxEventBytes})`,
    );
  }
  // A holder that renews no faster than its Lease lasts drops out of its
  // peers' view between renewals.
  if (c.leaseRenewMs >= c.leaseDurationMs) {
    throw new HeraldError(
      'HERALD_ERR_CONFIG_INVALID',
      `leaseRenewMs (${c.leaseRenewMs}) must be below leaseDurationMs (${c.leaseDurationMs})`,
    );
  }
  if (c.leaseDurationMs % 1000 !== 0) {
    throw new HeraldError(
      'HERALD_ERR_CONFIG_INVALID',
      `leaseDurationMs (${c.leaseDurationMs}) must be whole seconds: it is written as Lease.spec.leaseDurationSeconds`,
    );
  }
}

function coerce(key: ConfigKey, spec: OptionSpec, value: unknown, source: string): number | string | boolean {
  const where = source === key ? key : `${key} (from ${source})`;
  switch (spec.kind) {
    case 'int': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : NaN;
      if (!Number.isSafeInteger(n)) throw invalid(where, value, `an integer from ${spec.min} to ${spec.max}`);
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        throw invalid(where, value, `an integer from ${spec.min} to ${spec.max}`);
      }
      return n;
    }
    case 'bool': {
      if (value === true || value === 'true' || value === '1') return true;
      if (value === false || value === 'false' || value === '0') return false;
      throw invalid(where, value, 'true or false');
    }
    case 'enum': {
      if (typeof value !== 'string' || !spec.values!.includes(value)) throw invalid(where, value, `one of ${spec.values!.join(', ')}`);
      return value;
    }
    case 'string': {
      if (typeof value !== 'string') throw invalid(where, value, 'a string');
      if (spec.pattern !== undefined && !spec.pattern.test(value)) throw invalid(where, value, `a string matching ${spec.pattern}`);
      return value;
    }
  }
}

function invalid(where: string, value: unknown, allowed: string): HeraldError {
  return new HeraldError('HERALD_ERR_CONFIG_INVALID', `${where}: ${JSON.stringify(value)} is not allowed; expected ${allowed}`);
}

function unknownKey(name: string, known: string[], spell: (k: ConfigKey) => string): HeraldError {
  const bare = name.replace(/^--|^HERALD_/, '').replace(/[-_]/g, '').toLowerCase();
  const renamed = Object.entries(RENAMED).find(([old]) => old.toLowerCase() === bare);
  if (renamed) {
    return new HeraldError('HERALD_ERR_CONFIG_UNKNOWN', `${name} was renamed to ${spell(renamed[1])}`);
  }
  const closest = known.map((k) => ({ k, d: editDistance(k, name) })).sort((a, b) => a.d - b.d)[0];
  const hint = closest !== undefined && closest.d <= 3 ? `; did you mean ${closest.k}?` : '';
  return new HeraldError('HERALD_ERR_CONFIG_UNKNOWN', `unknown configuration key ${name}${hint}`);
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}
