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

/** Where an endpoint stands, as `client.endpoints()` shows it. */
export type EndpointState = 'idle' | 'connecting' | 'ready' | 'transient_failure' | 'shutdown';

/** What the client knows of one endpoint: its identity, where it stands and its counters. */
export interface EndpointFigures {
  readonly address: string;
  readonly id: string | undefined;
  readonly weight: number;
  readonly tags: Readonly<Record<string, string>>;
  readonly state: EndpointState;
  /** True when the balancer may pick it now. */
  readonly available: boolean;
  readonly draining: boolean;
  /** Set while a circuit breaker keeps the endpoint out of the picker. */
  readonly ejected: boolean;
  /** False while active health checking reports the endpoint NOT_SERVING. */
  readonly serving: boolean;
  readonly inflight: number;
  readonly calls: number;
  readonly failures: number;
  readonly consecutiveFailures: number;
  readonly latencyEwmaMs: number | undefined;
  /** Connect attempts that gave up after the connect timeout. */
  readonly connectTimeouts: number;
}

/** A snapshot of one endpoint for operators and tests. */
export interface EndpointInfo extends EndpointFigures {
  /** Time-decayed share of recent calls that failed, 0..1. */
  readonly failureRate: number;
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
