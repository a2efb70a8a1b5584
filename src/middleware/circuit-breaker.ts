import type { ClientControl, ClientView } from '../core/view';
import { announceBreaker, type CanEject } from './breaker-registry';
import { declareKind } from '../core/middleware-kind';
import { EndpointBreakers } from './breaker/endpoint-scope';
import { BreakerEvents } from './breaker/events';
import { breakerSettings } from './breaker/options';
import { ServiceBreakers } from './breaker/service-scope';
import type { BreakerListener, BreakerScope, BreakerSnapshot, BreakerState, CircuitBreakerOptions } from './breaker/types';
import type { Middleware, Next } from '../core/middleware';

export type { BreakerListener, BreakerScope, BreakerSnapshot, BreakerState, BreakerStateChange, CircuitBreakerOptions } from './breaker/types';
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
