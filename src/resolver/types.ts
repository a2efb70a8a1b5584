import type { Instance } from '../core/instance';

export type { Instance };

/** Receives a resolver's view of one service. */
export interface ResolverListener {
  /** The whole current list of instances, on every change. */
  onUpdate(instances: Instance[]): void;
  /** A resolution failed; the last good list stays in use. */
  onError(error: Error): void;
}

/** Finds the instances of services. */
export interface Resolver {
  /**
   * Starts watching `service`: the listener gets the full list on every change, the first as soon
   * as it is known. Returns a function that stops the watch. Errors go to the listener, never thrown.
   */
  watch(service: string, listener: ResolverListener): () => void;
  /**
   * A hint that the list may be stale: the client calls it when an endpoint fails to connect.
   * Optional; resolvers that poll (DNS) re-resolve early, rate-limited; push-based ones ignore it.
   */
  resolveNow?(service: string): void;
}
