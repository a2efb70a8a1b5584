// The clients a registry's metrics are attached to. The call level and the attempt level of a
// metrics() share one attachment per client: its resolver events are counted once, its breakers
// followed once, and it is let go when both have detached.

import type { ClientView } from '../../core/view';
import type { Counter } from '../prom-client-lazy';
import { followBreakers } from '../breaker-registry';
import type { BreakerSource } from './breakers';
import type { EndpointReading } from './endpoint-reading';

export type Level = 'call' | 'attempt';

/** What becomes of a client's events. */
export interface ClientEvents {
  readonly resolverUpdates: Counter<string>;
  readonly resolverErrors: Counter<string>;
  /** The endpoint left the client (or the client was let go, for each of its endpoints). */
  endpointGone(endpoint: EndpointReading): void;
  /** A circuit breaker in the client's chain. */
  breaker(breaker: BreakerSource): void;
}

interface Attachment {
  call: number;
  attempt: number;
  readonly stop: () => void;
}

export class AttachedClients {
  private readonly attachments = new Map<ClientView, Attachment>();

  constructor(private readonly events: ClientEvents) {}

  /** The clients attached now. */
  views(): IterableIterator<ClientView> {
    return this.attachments.keys();
  }

  has(view: ClientView): boolean {
    return this.attachments.has(view);
  }

  /** Whether an attempt-level middleware is attached to `view`: it then counts endpoints, not the call level. */
  countsAttempts(view: ClientView): boolean {
    const attachment = this.attachments.get(view);
    return attachment !== undefined && attachment.attempt > 0;
  }

  /** Attaches one level to `view`; returns the detach function (which may be called more than once). */
  attach(view: ClientView, level: Level): () => void {
    const attachment = this.attachments.get(view) ?? this.start(view);
    attachment[level]++;
    let detached = false;
    return () => {
      if (detached) return;
      detached = true;
      attachment[level]--;
      if (attachment.call + attachment.attempt > 0) return;
      attachment.stop();
      this.attachments.delete(view);
      for (const endpoint of view.endpoints()) this.events.endpointGone(endpoint);
    };
  }

  private start(view: ClientView): Attachment {
    const { resolverUpdates, resolverErrors } = this.events;
    const labels = { lb_service: view.service };
    // Zero from the start: rate() and increase() see the first update or error, not only later ones.
    resolverUpdates.inc(labels, 0);
    resolverErrors.inc(labels, 0);
    const stopObserving = view.observe({
      onResolved: () => resolverUpdates.inc(labels),
      onResolveError: () => resolverErrors.inc(labels),
      onEndpointRemoved: (endpoint) => this.events.endpointGone(endpoint),
    });
    // Circuit breakers in the same client's chain are followed without a `breakers` option.
    const stopFollowing = followBreakers(view, (breaker) => this.events.breaker(breaker));
    const attachment: Attachment = {
      call: 0,
      attempt: 0,
      stop: () => {
        stopObserving();
        stopFollowing();
      },
    };
    this.attachments.set(view, attachment);
    return attachment;
  }
}
