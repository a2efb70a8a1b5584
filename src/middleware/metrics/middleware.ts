// metrics(): the call-level middleware, which sees calls as the caller does, and its attempt-level
// partner, which sees every attempt with the endpoint it went to.

import { status as Status } from '@grpc/grpc-js';
import type { Registry } from 'prom-client';
import { monotonicClock, systemClock, type Clock, type MonotonicClock } from '../../core/clock';
import { checkOptionsObject, functionOption } from '../../core/options';
import { describeValue } from '../../core/text';
import { declareKind } from '../../core/middleware-kind';
import type { Middleware, Next } from '../../core/middleware';
import { isBreakerSource, type BreakerSource } from './breakers';
import { Instruments } from './instruments';
import { codeOf } from './names';

export interface MetricsOptions {
  /**
   * Where the series are registered; nothing goes on prom-client's global registry. Any number of
   * clients and metrics() instances may share one registry: they share its series.
   */
  registry: Registry;
  /** Upper bounds of grpc_client_handling_seconds, in seconds. Default DEFAULT_HANDLING_SECONDS_BUCKETS. */
  buckets?: readonly number[];
  /** Wall clock in epoch ms, for the age of the last resolution; give the one given to createClient. */
  now?: Clock;
  /** Monotonic clock in ms (fractions welcome) that handling times are measured with. Default performance.now. */
  timer?: MonotonicClock;
  /**
   * Circuit breakers (circuitBreaker() makes them) whose transitions are counted and whose states
   * are shown, beyond those in the chains of the clients this middleware is attached to (those
   * are followed without being listed). Followed for as long as the registry lives; one listed by
   * several metrics() instances on a registry is counted once.
   */
  breakers?: readonly BreakerSource[];
}

/** The call-level middleware, with its attempt-level partner. */
export type MetricsMiddleware = Middleware & {
  /**
   * Place it last in the list, inside retry and hedging: it sees every attempt, so it counts
   * retries and hedges and where each attempt went. Without it, the call-level middleware counts
   * each call once, against the endpoint of its last attempt.
   */
  readonly attempts: Middleware;
};

const WHERE = 'metrics';

/**
 * Prometheus metrics of a client, on a registry the caller owns.
 *
 * The middleware itself goes first in the list: it sees calls as the caller does and records
 * go-grpc-prometheus's client series (grpc_client_started_total, grpc_client_handled_total,
 * grpc_client_handling_seconds, grpc_client_msg_sent_total, grpc_client_msg_received_total).
 * Its `attempts` partner goes last, below retry, hedging and endpoint breakers, where every
 * attempt passes with the endpoint it went to: it records grpc_lb_attempts_total (first vs
 * retry_or_hedge) and grpc_lb_endpoint_calls_total per endpoint and outcome class. Without the
 * partner, the middleware counts each call once against the endpoint of its last attempt.
 *
 * From the clients it is attached to (at scrape time, nothing per call): grpc_lb_endpoints by
 * state, grpc_lb_resolution_age_seconds, grpc_lb_clients, and, as they happen,
 * grpc_lb_resolver_updates_total and grpc_lb_resolver_errors_total. Per-endpoint series are
 * removed when their endpoint leaves, so address churn does not grow the label sets. Attempts
 * that reached no endpoint count in grpc_lb_pick_failures_total; circuit breakers (in the
 * client's chain or listed in `breakers`) add grpc_lb_breaker_transitions_total and
 * grpc_lb_breakers.
 *
 * Counters are kept as plain numbers on the call path and moved into prom-client's counters by
 * their `collect` at scrape time; handling times go to prom-client's histogram as calls end. A
 * series registered beforehand with the same name, type and labels (for other help text or
 * buckets) is used as it is, through its own inc() and observe(), as calls end.
 */
export function metrics(options: MetricsOptions): MetricsMiddleware {
  checkOptionsObject(WHERE, options, false);
  const { registry, buckets } = options;
  if (!isRegistry(registry)) throw new TypeError(`${WHERE}: options.registry must be a prom-client Registry, got ${describeValue(registry)}`);
  if (buckets !== undefined) checkBuckets(buckets);
  const now = functionOption(WHERE, 'options.now', options.now, systemClock);
  const timer = functionOption(WHERE, 'options.timer', options.timer, monotonicClock);
  const breakers: unknown = options.breakers ?? [];
  if (!Array.isArray(breakers) || !breakers.every(isBreakerSource)) {
    throw new TypeError(`${WHERE}: options.breakers must be a list of circuit breakers (with onStateChange() and states()), got ${describeValue(breakers)}`);
  }
  const instruments = Instruments.of(registry, buckets, now);
  for (const breaker of breakers) instruments.breakers.follow(breaker);
  const { clients, endpoints, streams, settle } = instruments;

  const callLevel: Middleware =
    (next: Next): Next =>
    async (ctx) => {
      const cells = instruments.method(ctx);
      cells.started++;
      const startedAt = timer();
      const stream = ctx.type === 'unary' ? undefined : streams.track(ctx, cells);
      try {
        await next(ctx);
      } finally {
        const code = codeOf(ctx);
        cells.handling.observe((timer() - startedAt) / 1000);
        cells.handled[code]++;
        if (stream) streams.untrack(stream);
        // Unary halves count as one message each way, as go-grpc-prometheus counts them.
        if (ctx.type === 'unary' || ctx.type === 'server_stream') cells.sent++;
        if ((ctx.type === 'unary' || ctx.type === 'client_stream') && code === Status.OK) cells.received++;
        if (!clients.countsAttempts(ctx.client)) endpoints.outcome(ctx.client, ctx.service, ctx.endpoint, code);
        if (settle.length > 0) for (const flush of settle) flush();
      }
    };
  callLevel.attach = (view) => clients.attach(view, 'call');

  const attempts: Middleware =
    (next: Next): Next =>
    async (ctx) => {
      try {
        await next(ctx);
      } finally {
        const cells = instruments.method(ctx);
        if (ctx.attempt > 1) cells.laterAttempts++;
        else cells.firstAttempts++;
        endpoints.outcome(ctx.client, ctx.service, ctx.endpoint, codeOf(ctx));
        if (settle.length > 0) for (const flush of settle) flush();
      }
    };
  attempts.attach = (view) => clients.attach(view, 'attempt');

  // compose() checks their places: the call level outside retry and hedging, the attempt level inside.
  return Object.assign(declareKind(callLevel, 'call-metrics'), { attempts: declareKind(attempts, 'attempt-metrics') });
}

function isRegistry(value: unknown): value is Registry {
  return (
    typeof value === 'object' &&
    value !== null &&
    'getSingleMetric' in value &&
    typeof value.getSingleMetric === 'function' &&
    'registerMetric' in value &&
    typeof value.registerMetric === 'function'
  );
}

function checkBuckets(buckets: readonly number[]): void {
  const valid =
    Array.isArray(buckets) &&
    buckets.length > 0 &&
    buckets.every((b, i) => typeof b === 'number' && Number.isFinite(b) && (i === 0 || b > buckets[i - 1]));
  if (!valid) throw new TypeError(`${WHERE}: options.buckets must be a non-empty list of finite, increasing numbers (seconds), got ${describeValue(buckets)}`);
}
