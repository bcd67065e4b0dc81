import type { LeaseRecord } from './lease-record.js';

interface Entry {
  record: LeaseRecord;
  /** Local monotonic time this replica last saw the record change. */
  observedAt: number;
}

/**
 * The Leases of an installation as this replica last saw them, and which of
 * them are live.
 *
 * Liveness is judged the way client-go's leader election judges a leader: a
 * record is live until `durationMs` after THIS replica last saw it change
 * (new holder, renewTime or resourceVersion), on this replica's monotonic
 * clock. The renewTime written by the holder is never compared with local
 * time, so clock skew between nodes cannot expire a healthy peer or keep a
 * dead one.
 *
 * While the table is blind (the watch is broken: the API server is
 * unreachable) nothing expires: not seeing a renewal then says nothing about
 * the peer. When it sees again, every record gets a full duration from that
 * moment, so peers that are renewing have time to be seen doing it.
 */
export class MemberTable {
  private readonly entries = new Map<string, Entry>();
  /** When the table went blind; liveness is judged as of that moment until it sees again. */
  private blindSince: number | undefined;

  constructor(private readonly now: () => number) {}

  /** A record from the watch or a list; restarts its liveness if it changed. */
  observe(record: LeaseRecord): void {
    const prev = this.entries.get(record.name);
    const changed =
      prev === undefined ||
      prev.record.holder !== record.holder ||
      prev.record.renewTime !== record.renewTime ||
      prev.record.resourceVersion !== record.resourceVersion;
    this.entries.set(record.name, { record, observedAt: changed ? this.now() : prev.observedAt });
  }

  /** The Lease was deleted (a graceful leave) or released. */
  remove(name: string): void {
    this.entries.delete(name);
  }

  /** A full list: observes each record, removes every name not in it. */
  replace(records: readonly LeaseRecord[]): void {
    const names = new Set(records.map((r) => r.name));
    for (const name of this.entries.keys()) if (!names.has(name)) this.entries.delete(name);
    for (const r of records) this.observe(r);
  }

  /** The watch broke: freeze liveness as it stands now. */
  setBlind(): void {
    this.blindSince ??= this.now();
  }

  /**
   * In sync again (a list succeeded). Records that were live when the table
   * went blind get a full duration from now; records that had expired before
   * stay expired.
   */
  setSighted(): void {
    if (this.blindSince === undefined) return;
    const now = this.now();
    for (const e of this.entries.values()) if (this.remaining(e) > 0) e.observedAt = Math.max(e.observedAt, now);
    this.blindSince = undefined;
  }

  get isBlind(): boolean {
    return this.blindSince !== undefined;
  }

  get(name: string): LeaseRecord | undefined {
    return this.entries.get(name)?.record;
  }

  isLive(name: string): boolean {
    const e = this.entries.get(name);
    return e !== undefined && this.remaining(e) > 0;
  }

  /** Live records, sorted by name. */
  live(): LeaseRecord[] {
    return [...this.entries.values()]
      .filter((e) => this.remaining(e) > 0)
      .map((e) => e.record)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Milliseconds until the next live record expires, or undefined when none will (none live, or blind). */
  nextExpiryMs(): number | undefined {
    if (this.blindSince !== undefined) return undefined;
    let next: number | undefined;
    for (const e of this.entries.values()) {
      const r = this.remaining(e);
      if (r > 0 && (next === undefined || r < next)) next = r;
    }
    return next;
  }

  /** Time left, as of now, or as of the moment the table went blind. */
  private remaining(e: Entry): number {
    return e.observedAt + e.record.durationMs - (this.blindSince ?? this.now());
  }
}
