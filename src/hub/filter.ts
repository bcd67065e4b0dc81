import { HeraldError } from '../errors.js';
import type { HubEvent } from './event.js';
import { Severity, type SeverityLevel, type SeverityName } from './event.js';

/**
 * A subscription's server-side filter: a minimum severity and label
 * equalities (all must hold). Filtered events still move the cursor, so a
 * filter never makes resume inexact.
 */
export interface Filter {
  readonly minSeverity: SeverityLevel | 0;
  /** Sorted [key, value] pairs. */
  readonly labels: readonly (readonly [string, string])[];
  /** Canonical text: subscriptions with the same key share frames. */
  readonly key: string;
}

export const NO_FILTER: Filter = { minSeverity: 0, labels: [], key: '' };

const MAX_LABEL_FILTERS = 16;

export function parseFilter(minSeverity: string | undefined, labels: readonly string[]): Filter {
  let min: SeverityLevel | 0 = 0;
  if (minSeverity !== undefined) {
    if (!(minSeverity in Severity)) {
      throw new HeraldError('HERALD_ERR_FILTER_INVALID', `minSeverity ${JSON.stringify(minSeverity.slice(0, 40))} is not one of debug, info, warning, error, critical`);
    }
    min = Severity[minSeverity as SeverityName];
  }
  if (labels.length > MAX_LABEL_FILTERS) throw new HeraldError('HERALD_ERR_FILTER_INVALID', `at most ${MAX_LABEL_FILTERS} label filters`);
  const pairs = labels.map((l): [string, string] => {
    const i = l.indexOf(':');
    if (i <= 0) throw new HeraldError('HERALD_ERR_FILTER_INVALID', `label filter ${JSON.stringify(l.slice(0, 80))} must be key:value`);
    return [l.slice(0, i), l.slice(i + 1)];
  });
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1));
  if (min === 0 && pairs.length === 0) return NO_FILTER;
  const key = `s${min}` + pairs.map(([k, v]) => `|${k}=${v}`).join('');
  return { minSeverity: min, labels: pairs, key };
}

export function matches(f: Filter, ev: HubEvent): boolean {
  if (ev.severity < f.minSeverity) return false;
  for (let i = 0; i < f.labels.length; i++) {
    const [k, v] = f.labels[i]!;
    if (ev.labels === undefined || ev.labels[k] !== v) return false;
  }
  return true;
}
