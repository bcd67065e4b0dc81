/**
 * Remembers idempotency keys for a time window, with a cap on how many.
 * A Map keeps insertion order, which is expiry order, so forgetting is
 * always from the front and costs nothing per lookup.
 */
export class IdempotencyWindow {
  private readonly seen = new Map<string, { id: string; expiresAt: number }>();

  constructor(
    private readonly windowMs: number,
    private readonly maxKeys: number,
  ) {}

  get(topic: string, key: string, now: number): string | undefined {
    this.expire(now);
    return this.seen.get(topic + '\0' + key)?.id;
  }

  remember(topic: string, key: string, id: string, now: number): void {
    if (this.maxKeys === 0 || this.windowMs === 0) return;
    this.seen.set(topic + '\0' + key, { id, expiresAt: now + this.windowMs });
    while (this.seen.size > this.maxKeys) this.seen.delete(this.seen.keys().next().value!);
  }

  expire(now: number): void {
    for (const [k, v] of this.seen) {
      if (v.expiresAt > now) break;
      this.seen.delete(k);
    }
  }

  get size(): number {
    return this.seen.size;
  }
}
