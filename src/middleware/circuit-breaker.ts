import type { status as Status } from '@grpc/grpc-js';
import type { CallContext } from '../core/context';
import type { ClientControl, ClientView } from '../core/view';
import type { MonotonicClock } from '../core/clock';
import type { Timers } from './budget';
import { announceBreaker, type CanEject } from './breaker-registry';
import { declareKind } from '../core/middleware-kind';
import { EndpointBreakers } from './breaker/endpoint-scope';
import { BreakerEvents } from './breaker/events';
import { breakerSettings } from './breaker/options';
import { ServiceBreakers } from './breaker/service-scope';
import type { BreakerListener, BreakerScope, BreakerSnapshot, BreakerState } from './breaker/types';
import type { Middleware, Next } from '../core/middleware';

export type { BreakerListener, BreakerScope, BreakerSnapshot, BreakerState, BreakerStateChange } from './breaker/types';
export {
  DEFAULT_BREAKER_SCOPE,
  DEFAULT_BUCKETS,
  DEFAULT_CONSECUTIVE_FAILURES,
  DEFAULT_ERROR_RATE,
  DEFAULT_FAILURE_CODES,
  DEFAULT_HALF_OPEN_PROBES,
  DEFAULT_MAX_EJECTION_SHARE,
  DEFAULT_MIN_SAMPLES,
  DEFAULT_OPEN_MS,
  DEFAULT_SERVICE_CONSECUTIVE_FAILURES,
  DEFAULT_WINDOW_MS,
  MAX_BUCKETS,
} from './breaker/options';

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

/** The middleware, with its breakers' state on view. */
export interface CircuitBreaker extends Middleware {
  readonly scope: BreakerScope;
  /** State of the breaker for an endpoint address or service key; undefined when unknown. */
  state(key: string): BreakerState | undefined;
  /** Every breaker of the clients this middleware is attached to. */
  states(): BreakerSnapshot[];
  /** Follows state changes; returns a function that stops following. */
  onStateChange(listener: BreakerListener): () => void;
}

/**
 * The circuit breaker. Which codes count is `failureCodes`; a cancel of our own (a lost hedge,
 * the caller's) counts neither way, as it says nothing about the server, while a CANCELLED the
 * server sent (a reset stream) counts as UNAVAILABLE. A breaker opens when at least `minSamples`
 * outcomes in the last `windowMs` hold an `errorRate` share of failures, or on
 * `consecutiveFailures` in a row (endpoint scope by default; service scope only when asked).
 * After `openMs` it is half-open: `halfOpenProbes` calls go through; as many successes close it,
 * a failure opens it again.
 *
 * Endpoint scope acts on attempts and sits below retry and hedge: it sees each attempt and its
 * endpoint, and counts a half-open probe when the transport picks it (the `picked` hook). Service
 * scope acts on whole calls and sits above retry and hedge, so a refused call is not retried and
 * its failures are the calls' failures after retries. It judges the service, not an instance:
 * when an endpoint breaker in the same chain may eject endpoints, the failures of the one endpoint
 * with the most of them are set aside before judging, so a burst confined to one instance (a
 * crash with calls in flight) never opens it while the others answer.
 *
 * Each breaker is one state machine (breaker/machine.ts) with the open policy beside it
 * (breaker/policy.ts); what a scope adds lives in breaker/endpoint-scope.ts and
 * breaker/service-scope.ts.
 */
export function circuitBreaker(options: CircuitBreakerOptions = {}): CircuitBreaker {
  const settings = breakerSettings(options);
  const scope = settings.scope;
  const events = new BreakerEvents(scope, settings.onStateChange);
  let middleware: CircuitBreaker;
  if (scope === 'endpoint') {
    const breakers = new EndpointBreakers(settings, events);
    const canEject: CanEject = (client, address) => breakers.canEject(client, address);
    middleware = build(scope, (next) => breakers.wrap(next), breakers, events, canEject);
    middleware.picked = (ctx, endpoint) => breakers.picked(ctx, endpoint);
  } else {
    const breakers = new ServiceBreakers(settings, events);
    middleware = build(scope, (next) => breakers.wrap(next), breakers, events, undefined);
  }
  return middleware;
}

/** What the middleware's methods ask of a scope's breakers. */
interface Scope {
  attach(client: ClientView, control: ClientControl | undefined): () => void;
  state(key: string): BreakerState | undefined;
  states(): BreakerSnapshot[];
}

function build(scope: BreakerScope, wrap: (next: Next) => Next, breakers: Scope, events: BreakerEvents, canEject: CanEject | undefined): CircuitBreaker {
  const self: CircuitBreaker = Object.assign(wrap, {
    scope,
    attach: (client: ClientView, control?: ClientControl) => {
      const stop = breakers.attach(client, control);
      // Others in the chain find it: metrics counts its transitions, a service breaker asks it.
      const leave = announceBreaker(client, self, canEject);
      return () => {
        leave();
        stop();
      };
    },
    state: (key: string) => breakers.state(key),
    states: () => breakers.states(),
    onStateChange: (listener: BreakerListener) => events.add(listener),
  });
  // compose() checks its place: the service breaker outside retry and hedge, the endpoint breaker inside.
  return declareKind(self, scope === 'endpoint' ? 'endpoint-breaker' : 'service-breaker');
}
