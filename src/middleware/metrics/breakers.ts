// Circuit breakers' transitions (grpc_lb_breaker_transitions_total, as they happen) and states
// (grpc_lb_breakers, at scrape). Each breaker is followed once per registry, however many
// metrics() instances list it or clients have it in their chain.

import type { Counter, Gauge } from '../prom-client-lazy';
import { BREAKER_STATES, type Labels } from './names';

/** What metrics needs of a circuit breaker; circuitBreaker()'s middleware has it. */
export interface BreakerSource {
  onStateChange(listener: (change: { readonly scope: string; readonly service: string; readonly from: string; readonly to: string }) => void): () => void;
  states(): readonly { readonly scope: string; readonly service: string; readonly state: string }[];
}

/** A breaker is often a middleware, so a function with these methods. */
export function isBreakerSource(value: unknown): value is BreakerSource {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false;
  return 'onStateChange' in value && typeof value.onStateChange === 'function' && 'states' in value && typeof value.states === 'function';
}

export class FollowedBreakers {
  private readonly followed = new Set<BreakerSource>();

  constructor(private readonly transitions: Counter<string>) {}

  /** Followed for as long as the registry lives. */
  follow(breaker: BreakerSource): void {
    if (this.followed.has(breaker)) return;
    this.followed.add(breaker);
    breaker.onStateChange(({ service, scope, from, to }) => this.transitions.inc({ lb_service: service, scope, from, to }));
  }

  /** Every state of every (service, scope) in use, zeros included; gone with their breakers. */
  setStates(gauge: Gauge<string>): void {
    const counts = new Map<string, { labels: Labels; count: number }>();
    for (const breaker of this.followed) {
      for (const { scope, service, state } of breaker.states()) {
        for (const each of BREAKER_STATES) {
          const key = `${service}\u0000${scope}\u0000${each}`;
          if (!counts.has(key)) counts.set(key, { labels: { lb_service: service, scope, state: each }, count: 0 });
        }
        const entry = counts.get(`${service}\u0000${scope}\u0000${state}`);
        if (entry) entry.count++;
      }
    }
    gauge.reset();
    for (const { labels, count } of counts.values()) gauge.set(labels, count);
  }
}
