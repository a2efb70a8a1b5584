// What a middleware is, for the code that builds a chain: the library's own middleware declare
// their kind, so that compose() checks their places (middleware/order.ts) and createClient knows
// whether a layer of the chain already sends more than one attempt per call (it then turns off
// grpc-js's own retries on its channels and refuses a second retry layer). The user's own
// middleware have no kind.

/** The kinds of middleware whose place in a chain matters, from the outside in. */
export type MiddlewareKind =
  /** metrics(): what the caller sees, one call with its retries. */
  | 'call-metrics'
  /** timeout(): a deadline for the whole call. */
  | 'timeout'
  /** circuitBreaker({ scope: 'service' }): judges calls after their retries. */
  | 'service-breaker'
  | 'retry'
  | 'hedge'
  /** The gRPC service config's retryPolicy or hedgingPolicy, which createClient places innermost. */
  | 'config-retry'
  /** circuitBreaker({ scope: 'endpoint' }): judges every attempt on its endpoint. */
  | 'endpoint-breaker'
  /** metrics().attempts: every attempt, per endpoint. */
  | 'attempt-metrics';

const KINDS = new WeakMap<object, MiddlewareKind>();

/** Declares `middleware` to be of `kind`. Returns it. */
export function declareKind<M extends object>(middleware: M, kind: MiddlewareKind): M {
  KINDS.set(middleware, kind);
  return middleware;
}

/** The declared kind of `middleware`; undefined for middleware of no declared kind. */
export function kindOf(middleware: unknown): MiddlewareKind | undefined {
  return typeof middleware === 'function' ? KINDS.get(middleware) : undefined;
}

/** True for a middleware that sends more than one attempt per call (retry, hedging). */
export function isRetryLayer(middleware: unknown): boolean {
  const kind = kindOf(middleware);
  return kind === 'retry' || kind === 'hedge' || kind === 'config-retry';
}
