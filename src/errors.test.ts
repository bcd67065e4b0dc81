import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type ErrorCode, ERRORS, GrpcStatus, HeraldError, toHeraldError } from './errors.js';

const ERRORS_DOC = new URL('../docs/errors.md', import.meta.url);

interface DocRow {
  code: string;
  http: number;
  grpc: string;
  line: number;
}

/** Every table row of docs/errors.md whose first cell is an error code. */
function docRows(): DocRow[] {
  const rows: DocRow[] = [];
  const lines = readFileSync(ERRORS_DOC, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.startsWith('|')) continue;
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    const first = cells[0] ?? '';
    if (!first.includes('HERALD_ERR_')) continue;
    const code = /^`(HERALD_ERR_[A-Z0-9_]+)`$/.exec(first)?.[1];
    const http = Number(cells[1]);
    const grpc = cells[2] ?? '';
    if (code === undefined || !Number.isInteger(http) || !/^[A-Z_]+$/.test(grpc)) {
      throw new Error(`docs/errors.md:${i + 1}: expected | \`HERALD_ERR_...\` | <http status> | <gRPC status name> | <when> |, got ${line}`);
    }
    rows.push({ code, http, grpc, line: i + 1 });
  }
  return rows;
}

const GRPC_NAMES = new Map<number, string>(Object.entries(GrpcStatus).map(([name, n]) => [n, name]));
const CATALOG = Object.keys(ERRORS) as ErrorCode[];

describe('errors catalog', () => {
  it('errors - every code in the catalog is listed in docs/errors.md', () => {
    const documented = new Set(docRows().map((r) => r.code));
    const missing = CATALOG.filter((c) => !documented.has(c));
    expect(missing, 'codes missing from docs/errors.md').toEqual([]);
  });

  it('errors - docs/errors.md lists no code that is not in the catalog', () => {
    const unknown = docRows()
      .filter((r) => !(r.code in ERRORS))
      .map((r) => `${r.code} (line ${r.line})`);
    expect(unknown, 'codes in docs/errors.md but not in src/errors.ts').toEqual([]);
  });

  it('errors - docs/errors.md lists each code once', () => {
    const seen = new Map<string, number>();
    for (const r of docRows()) seen.set(r.code, (seen.get(r.code) ?? 0) + 1);
    expect([...seen].filter(([, n]) => n > 1).map(([c]) => c)).toEqual([]);
  });

  it('errors - HTTP and gRPC statuses in docs/errors.md match the catalog', () => {
    const drift: string[] = [];
    for (const r of docRows()) {
      const spec = ERRORS[r.code as ErrorCode];
      if (spec === undefined) continue;
      const grpcName = GRPC_NAMES.get(spec.grpc) ?? String(spec.grpc);
      if (r.http !== spec.http) drift.push(`${r.code}: docs say HTTP ${r.http}, catalog has ${spec.http}`);
      if (r.grpc !== grpcName) drift.push(`${r.code}: docs say gRPC ${r.grpc}, catalog has ${grpcName}`);
    }
    expect(drift).toEqual([]);
  });

  it('errors - every code is HERALD_ERR_<AREA>[_<WHAT>] with a named gRPC status', () => {
    for (const code of CATALOG) {
      expect(code).toMatch(/^HERALD_ERR_[A-Z0-9]+(?:_[A-Z0-9]+)*$/);
      expect(GRPC_NAMES.has(ERRORS[code].grpc), `${code} grpc status`).toBe(true);
    }
  });
});

describe('toHeraldError', () => {
  it('errors - a plain Error becomes INTERNAL without leaking its message, and keeps the cause', () => {
    const cause = new Error('ENOENT: /var/secret/token');
    const e = toHeraldError(cause);
    expect(e).toBeInstanceOf(HeraldError);
    expect(e.code).toBe('HERALD_ERR_INTERNAL');
    expect(e.message).toBe('internal error');
    expect(e.cause).toBe(cause);
    expect(e.http).toBe(500);
    expect(e.grpc).toBe(GrpcStatus.INTERNAL);
    expect(JSON.stringify(e.toJSON())).not.toContain('secret');
    expect(e.toJSON()).toEqual({ error: { code: 'HERALD_ERR_INTERNAL', message: 'internal error' } });
  });

  it('errors - a thrown non-Error value becomes INTERNAL too', () => {
    const e = toHeraldError('boom');
    expect(e.code).toBe('HERALD_ERR_INTERNAL');
    expect(e.message).toBe('internal error');
    expect(e.cause).toBe('boom');
  });

  it('errors - a HeraldError passes through unchanged', () => {
    const original = new HeraldError('HERALD_ERR_TOPIC_MISSING', 'topic is required', { retryAfterS: 3 });
    const e = toHeraldError(original);
    expect(e).toBe(original);
    expect(e.http).toBe(400);
    expect(e.grpc).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(e.retryAfterS).toBe(3);
  });
});
