import type { ClientViewObserver } from '../core/view';
import type { ClientEndpoint } from './endpoint';
import type { Logger } from '../core/logger';

/** Follows what happens to an endpoint set: for metrics, health checking and tests. */
export type EndpointSetObserver = ClientViewObserver<ClientEndpoint>;

type Event = keyof EndpointSetObserver;
type EventArgs = { [K in Event]-?: Parameters<NonNullable<EndpointSetObserver[K]>>[0] };

/** Calls one event's handler: a table, so that each handler gets its own argument type. */
const DISPATCH: { [K in Event]: (observer: EndpointSetObserver, arg: EventArgs[K]) => void } = {
  onResolved: (observer, instances) => observer.onResolved?.(instances),
  onResolveError: (observer, error) => observer.onResolveError?.(error),
  onEndpointAdded: (observer, endpoint) => observer.onEndpointAdded?.(endpoint),
  onEndpointRemoved: (observer, endpoint) => observer.onEndpointRemoved?.(endpoint),
  onEndpointChanged: (observer, endpoint) => observer.onEndpointChanged?.(endpoint),
};

/** The observers of one endpoint set; one that throws is logged and does not stop the others or the set. */
export class SetObservers {
  private readonly observers = new Set<EndpointSetObserver>();

  constructor(
    private readonly logger: Logger,
    private readonly service: string,
  ) {}

  /** Returns a function that removes the observer. */
  add(observer: EndpointSetObserver): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  tell<K extends Event>(event: K, arg: EventArgs[K]): void {
    const dispatch: (observer: EndpointSetObserver, arg: EventArgs[K]) => void = DISPATCH[event];
    for (const observer of this.observers) {
      try {
        dispatch(observer, arg);
      } catch (error) {
        this.logger.error({ service: this.service, event, err: String(error) }, 'endpoint observer threw');
      }
    }
  }
}
