import { type ConfigKey, OPTIONS, type OptionSpec, envName, flagName } from './schema.js';

/**
 * docs/config.md, rendered from the schema. The generator script
 * (scripts/gen-config-docs.mjs, `npm run docs:config`) writes it and
 * config.test.ts compares it, so the two can never drift apart silently.
 *
 * Pure and deterministic: the same schema always renders the same bytes.
 */

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const HEADER = `# Configuration

<!-- Generated from src/config/schema.ts by \`npm run docs:config\`. Do not edit by hand: src/config/config.test.ts fails when this file and the schema differ. -->

Every option is a flag of \`herald serve\` and an environment variable.
Flags win over the environment, and both win over the default. Values are
checked once at start (src/config/load.ts) and the result is frozen:

- a value of the wrong type or out of range stops the process with
  \`HERALD_ERR_CONFIG_INVALID\`, naming the key, where it came from and what
  is allowed;
- a flag or \`HERALD_*\` variable that is not an option stops it with
  \`HERALD_ERR_CONFIG_UNKNOWN\`, suggesting the closest option.

Units are in the key: \`...Ms\` is milliseconds, \`...Bytes\` is bytes.
Flags take \`--key value\` or \`--key=value\`.

| Key | Flag | Environment | Default | Allowed | Description |
| --- | --- | --- | --- | --- | --- |
`;

/** The whole of docs/config.md. */
export function renderConfigDocs(): string {
  const rows = (Object.keys(OPTIONS) as ConfigKey[]).map((key) => {
    const spec: OptionSpec = OPTIONS[key];
    return `| ${code(key)} | ${code(flagName(key))} | ${code(envName(key))} | ${defaultCell(key, spec)} | ${allowedCell(key, spec)} | ${cell(spec.doc)} |`;
  });
  return HEADER + rows.join('\n') + '\n';
}

function defaultCell(key: string, spec: OptionSpec): string {
  const v = spec.default;
  if (typeof v === 'number') return withUnit(key, v);
  if (typeof v === 'boolean') return code(String(v));
  return v === '' ? '(empty)' : code(v);
}

function allowedCell(key: string, spec: OptionSpec): string {
  switch (spec.kind) {
    case 'int': {
      const bound = (n: number | undefined): string => (n === undefined ? 'any' : code(String(n)));
      const readable = (n: number | undefined): string => (n === undefined ? 'any' : (human(key, n) ?? String(n)));
      const hasUnits = (spec.min !== undefined && human(key, spec.min) !== undefined) || (spec.max !== undefined && human(key, spec.max) !== undefined);
      return `integer ${bound(spec.min)} .. ${bound(spec.max)}` + (hasUnits ? ` (${readable(spec.min)} .. ${readable(spec.max)})` : '');
    }
    case 'enum':
      return (spec.values ?? []).map(code).join(', ');
    case 'bool':
      return `${code('true')}, ${code('false')}, ${code('1')}, ${code('0')}`;
    case 'string':
      return spec.pattern === undefined ? 'any string' : `matches ${code(String(spec.pattern))}`;
  }
}

/** `268435456` (256 MiB): the exact number to type, and what it means. */
function withUnit(key: string, n: number): string {
  const h = human(key, n);
  return h === undefined ? code(String(n)) : `${code(String(n))} (${h})`;
}

/** A readable size or duration for keys whose name carries the unit, in the largest unit that divides it. */
function human(key: string, n: number): string | undefined {
  if (n === 0) return undefined;
  const units: readonly (readonly [number, string])[] | undefined = key.endsWith('Bytes')
    ? [
        [TiB, 'TiB'],
        [GiB, 'GiB'],
        [MiB, 'MiB'],
        [KiB, 'KiB'],
        [1, 'B'],
      ]
    : key.endsWith('Ms')
      ? [
          [DAY, 'd'],
          [HOUR, 'h'],
          [MINUTE, 'min'],
          [SECOND, 's'],
          [1, 'ms'],
        ]
      : undefined;
  if (units === undefined) return undefined;
  for (const [size, name] of units) if (n % size === 0) return `${n / size} ${name}`;
  return undefined;
}

/** Inline code that survives a table cell (GFM splits cells on `|` even inside code). */
function code(s: string): string {
  return '`' + s.replace(/\|/g, '\\|') + '`';
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}
