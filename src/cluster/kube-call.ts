import { ApiException } from '@kubernetes/client-node';

import { HeraldError } from '../errors.js';

/**
 * Bounds one API call. The request itself is not cancelled (client-node has
 * no per-call signal); its late answer is ignored, which is safe because
 * every write carries a resourceVersion or is a create.
 */
export function withTimeout<T>(call: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    call.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/** The HTTP status of a failed API call, or undefined when there was no answer (network, timeout). */
export function statusOf(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const code = (err as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** A failed API call as a HERALD_ERR_CLUSTER_API error with a one-line message (ApiException's own spans headers and body). */
export function apiError(what: string, err: unknown): HeraldError {
  const status = statusOf(err);
  let detail: string;
  if (err instanceof ApiException) {
    const body: unknown = typeof err.body === 'string' ? safeParse(err.body) : err.body;
    const message = (body as { message?: unknown } | undefined)?.message;
    detail = `HTTP ${status}${typeof message === 'string' ? `: ${message}` : ''}`;
  } else {
    const e = err as { message?: unknown; cause?: { code?: unknown; message?: unknown } } | undefined;
    const cause = e?.cause?.code ?? e?.cause?.message;
    detail = `${String(e?.message ?? err)}${cause === undefined ? '' : ` (${String(cause)})`}`;
  }
  return new HeraldError('HERALD_ERR_CLUSTER_API', `${what}: ${detail}`, { cause: err });
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
