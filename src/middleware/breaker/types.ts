// The breaker's public types and the policy interface, in one file that the machine, the window,
// the scopes and the chain registry all import: none of them imports another for its types.

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
