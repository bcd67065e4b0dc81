/** Severity, ordered so a subscriber's minSeverity is a plain comparison. */
export const Severity = { debug: 1, info: 2, warning: 3, error: 4, critical: 5 } as const;
export type SeverityName = keyof typeof Severity;
export type SeverityLevel = (typeof Severity)[SeverityName];
export const SEVERITY_NAMES = Object.keys(Severity) as SeverityName[];

/** What a publisher hands the hub, after the ingest adapter decoded it. */
export interface PublishInput {
  topic: string;
  /** SSE event name; '' or undefined means "message". */
  type?: string | undefined;
  data: Uint8Array;
  severity?: SeverityLevel | undefined;
  labels?: Readonly<Record<string, string>> | undefined;
  key?: string | undefined;
  idempotencyKey?: string | undefined;
}

export interface PublishResult {
  /** Cursor of a one-topic subscription positioned just after this event. */
  id: string;
  duplicate: boolean;
}

/**
 * An event as the hub keeps it in history. `ord` is the hub-wide publish
 * order: positions in cursors are ords, so a topic's positions only grow,
 * and merging several topics' histories on resume is a merge by ord.
 */
export interface HubEvent {
  readonly ord: number;
  readonly topic: string;
  readonly type: string;
  readonly data: Buffer;
  readonly severity: SeverityLevel;
  readonly labels: Readonly<Record<string, string>> | undefined;
  readonly key: string | undefined;
  /** Publish time, ms since the epoch: history age and latency. */
  readonly ts: number;
  /** The SSE `event:` and `data:` lines and the blank line, without `id:`. Encoded once. */
  readonly body: Buffer;
  /** Same, with data wrapped in the JSON envelope; encoded on first use. */
  envelopeBody: Buffer | undefined;
}
