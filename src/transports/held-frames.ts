/**
 * Frames a congested, conflating stream holds back. Order is kept, except
 * that a frame with a key replaces any older held frame with the same key:
 * the newer one moves to the end, so cursors still only grow, and its id
 * covers the events it replaced.
 */
export class HeldFrames {
  private entries: (Buffer | undefined)[] = [];
  private keys: (string | undefined)[] = [];
  private readonly byKey = new Map<string, number>();
  private holes = 0;
  bytes = 0;
  /** Frames dropped because a newer one with the same key arrived. */
  replaced = 0;

  push(frame: Buffer, key: string | undefined): void {
    if (key !== undefined) {
      const old = this.byKey.get(key);
      if (old !== undefined) {
        this.bytes -= this.entries[old]!.length;
        this.entries[old] = undefined;
        this.holes++;
        this.replaced++;
      }
      this.byKey.set(key, this.entries.length);
    }
    this.entries.push(frame);
    this.keys.push(key);
    this.bytes += frame.length;
    // Gauges updated far faster than the client reads leave mostly holes: compact.
    if (this.holes > 64 && this.holes * 2 > this.entries.length) this.compact();
  }

  /** The held frames, oldest first. */
  frames(): Buffer[] {
    return this.entries.filter((f): f is Buffer => f !== undefined);
  }

  private compact(): void {
    const entries: Buffer[] = [];
    const keys: (string | undefined)[] = [];
    this.byKey.clear();
    for (let i = 0; i < this.entries.length; i++) {
      const f = this.entries[i];
      if (f === undefined) continue;
      const k = this.keys[i];
      if (k !== undefined) this.byKey.set(k, entries.length);
      entries.push(f);
      keys.push(k);
    }
    this.entries = entries;
    this.keys = keys;
    this.holes = 0;
  }
}
