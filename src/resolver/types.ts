/** One instance of a service as a registry reports it. */
export interface Instance {
  /** "host:port"; IPv6 as "[::1]:50051". */
  address: string;
  /** Relative share of calls; 1 when missing. Instances with a weight that is not a finite number > 0 are skipped and reported. */
  weight?: number;
  tags?: Record<string, string>;
  /** The registry's own id for the instance, when it has one. */
  id?: string;
}

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
