// The breaker's public types and the policy interface, in one file that the machine, the window,
// the scopes and the chain registry all import: none of them imports another for its types.

import type { status as Status } from '@grpc/grpc-js';
import type { MonotonicClock } from '../../core/clock';
import type { CallContext } from '../../core/context';
import type { Timers } from '../budget';

/**
 * `endpoint`: one breaker per endpoint; an open one takes its endpoint out of the picker, so
 * calls go to the others (Envoy's outlier detection, Kitex's instance breaker). `service`: one
 * breaker per client (or per `key`); an open one fails calls at once with UNAVAILABLE.
 */
export type BreakerScope = 'endpoint' | 'service';

export type BreakerState = 'closed' | 'open' | 'half_open';

/** A breaker changed state: for metrics and logs. */
export interface BreakerStateChange {
  readonly scope: BreakerScope;
  /** The endpoint's address, or the service breaker's key. */
  readonly key: string;
  readonly service: string;
  readonly target: string;
  readonly from: BreakerState;
  readonly to: BreakerState;
  /** Why, in words: what tripped it, what a probe answered. */
  readonly reason: string;
}

export type BreakerListener = (change: BreakerStateChange) => void;

/** One breaker as states() shows it. */
export interface BreakerSnapshot {
  readonly scope: BreakerScope;
  /** The endpoint's address, or the service breaker's key. */
  readonly key: string;
  readonly service: string;
  readonly state: BreakerState;
  /** Outcomes in the sliding window, and how many of them were failures. */
  readonly samples: number;
  readonly failures: number;
  readonly consecutiveFailures: number;
  /** How long until an open breaker lets probes through; 0 unless open. */
  readonly halfOpenInMs: number;
}

/** What a policy has counted, for snapshots. */
export interface PolicyCounts {
  readonly samples: number;
  readonly failures: number;
  readonly consecutiveFailures: number;
}

/**
 * When a closed breaker opens. The machine tells it every outcome it judges while closed and
 * asks nothing else; the policy keeps whatever it needs to answer.
 */
export interface OpenPolicy {
  success(): void;
  /** A failure, from the endpoint at `address` when one was reached; returns why the breaker must open, or undefined. */
  failure(address: string | undefined): string | undefined;
  /** Starts afresh, as after closing: old failures must not trip it again at once. */
  reset(): void;
  counts(): PolicyCounts;
}

/** Options of circuitBreaker(). */
export interface CircuitBreakerOptions {
  /** Default 'endpoint'. */
  scope?: BreakerScope;
  /** Share of failures in the window that opens the breaker, once minSamples are in. Default 0.5. */
  errorRate?: number;
  /** Outcomes the window must hold before errorRate is judged. Default 200. */
  minSamples?: number;
  /** Length of the sliding window. Default 10 s. */
  windowMs?: number;
  /** Buckets the window is kept in; it slides one bucket at a time. Default 10, at most 1,000, each at least 1 ms. */
  buckets?: number;
  /**
   * Failures in a row that open the breaker whatever the window says; 0 turns this off. Default 5
   * for endpoint scope, 0 (off: judged by rate alone) for service scope.
   */
  consecutiveFailures?: number;
  /** How long a breaker stays open before it lets probes through. Default 5 s. */
  openMs?: number;
  /** Calls let through at once while half-open; that many successes close the breaker. Default 1. */
  halfOpenProbes?: number;
  /** Status codes that count as failures. Default: those isEndpointFailure() accepts. */
  failureCodes?: readonly Status[];
  /** Endpoint scope: the largest share of a client's endpoints that may be ejected at once. Default 0.5. */
  maxEjectionShare?: number;
  /** Service scope: what a breaker stands for. Default ctx.service (one per client). */
  key?: (ctx: CallContext) => string;
  /** Service scope: the breaker's name in the UNAVAILABLE message. Default 'service'. */
  name?: string;
  /** Told of every state change; errors it throws are ignored. */
  onStateChange?: BreakerListener;
  /** Monotonic clock in ms. Default performance.now. */
  now?: MonotonicClock;
  /** Default Node's timers, unref'd: an open breaker does not keep the process alive. */
  timers?: Timers;
}
