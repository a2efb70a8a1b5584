import { excerpt } from '../../core/text';
import type { BreakerMachine } from './machine';
import type { BreakerListener, BreakerScope, BreakerState, BreakerStateChange } from './types';

const TRANSITION_WORDS: Readonly<Record<BreakerState, string>> = { open: 'opened', half_open: 'half-open: letting probes through', closed: 'closed' };

/** The listeners of one circuitBreaker(): told of every transition of its machines, and the client's log. */
export class BreakerEvents {
  private readonly listeners = new Set<BreakerListener>();

  constructor(
    private readonly scope: BreakerScope,
    listener: BreakerListener | undefined,
  ) {
    if (listener) this.listeners.add(listener);
  }

  add(listener: BreakerListener): () => void {
    if (typeof listener !== 'function') throw new TypeError('circuitBreaker.onStateChange(listener): listener must be a function');
    // A wrapper per subscription, so the same function added twice is removed once per call.
    const entry: BreakerListener = (change) => listener(change);
    this.listeners.add(entry);
    return () => this.listeners.delete(entry);
  }

  emit(machine: BreakerMachine, from: BreakerState, reason: string): void {
    const to = machine.state;
    const key = this.scope === 'service' ? excerpt(machine.key) : machine.key;
    machine.logger?.info({ service: machine.service, scope: this.scope, key, from, to, reason }, `${this.scope} circuit breaker ${TRANSITION_WORDS[to]}`);
    if (this.listeners.size === 0) return;
    const change: BreakerStateChange = { scope: this.scope, key: machine.key, service: machine.service, target: machine.target, from, to, reason };
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch {
        // A metrics hook must not break calls nor leave the breaker half-switched.
      }
    }
  }
}
