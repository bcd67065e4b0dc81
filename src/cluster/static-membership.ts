import { EventEmitter } from 'node:events';

import type { Member, Membership, MembershipChange, MembershipStats, MembershipState } from './membership.js';

/** cluster=off: one replica on its own, always its only member. No I/O, no timers. */
export class StaticMembership extends EventEmitter<{ change: [MembershipChange] }> implements Membership {
  private readonly self: Member;
  private state: MembershipState = 'joining';

  constructor(opts: { name: string; epoch: string; peerAddress: string }) {
    super();
    this.self = Object.freeze({ name: opts.name, epoch: opts.epoch, peerAddress: opts.peerAddress, self: true });
  }

  async start(): Promise<void> {
    this.state = 'holding';
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
  }

  members(): Member[] {
    return this.state === 'holding' ? [this.self] : [];
  }

  stats(): MembershipStats {
    return {
      mode: 'static',
      name: this.self.name,
      identity: this.self.name,
      state: this.state,
      members: this.members(),
      degraded: false,
      lastError: null,
      renewals: 0,
      renewFailures: 0,
      degradedCount: 0,
      conflicts: 0,
      relists: 0,
    };
  }
}
