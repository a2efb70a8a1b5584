/** What a balancer sees of an endpoint. Plain objects satisfy it; the client's live endpoints add stats. */
export interface Endpoint {
  /** "host:port"; IPv6 as "[::1]:50051". */
  readonly address: string;
  /** Relative share of calls, > 0. */
  readonly weight: number;
  readonly tags: Readonly<Record<string, string>>;
  /** Calls started on this endpoint and not yet finished (live). */
  readonly inflight: number;
  /**
   * Peak-sensitive moving average of call latency in milliseconds (live), or undefined before the
   * first sample. Latency-aware balancers read it; plain objects may leave it out.
   */
  readonly latencyEwmaMs?: number;
}
