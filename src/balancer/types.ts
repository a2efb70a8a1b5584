import type { Metadata } from '@grpc/grpc-js';

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

/** What the client knows about a call at pick time. */
export interface PickInfo {
  /** Full method path, '/pkg.Service/Method'. */
  readonly method: string;
  /** Consistent-hash key of this call, when it has one. */
  readonly hashKey?: string;
  readonly metadata?: Metadata;
  /** Addresses to avoid (already tried by this call) while any other endpoint remains. */
  readonly exclude?: ReadonlySet<string>;
}

/** An immutable snapshot of a balancer's view, rebuilt when the endpoints or their availability change. */
export interface Picker<E extends Endpoint = Endpoint> {
  /** The endpoint for this call, or undefined when there is nothing to pick. */
  pick(info: PickInfo): E | undefined;
}

/** A load-balancing policy: turns the available endpoints into a picker. */
export interface Balancer {
  readonly name: string;
  /**
   * True for a balancer whose choice should not change while an endpoint connects (consistent
   * hashing): its picker is built over every endpoint not known to be failing, connecting ones
   * included, and a call whose choice is still connecting waits for it. Default false: pickers
   * see the ready endpoints only.
   */
  readonly waitsForConnecting?: boolean;
  build<E extends Endpoint>(endpoints: readonly E[]): Picker<E>;
}
