import { status as Status } from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import type { Metric, Registry } from 'prom-client';
import { Counter, Gauge } from './prom-client-lazy';
import type { CallContext, CallType } from '../client/context';
import { isEndpointFailure } from '../core/status';
import { followBreakers } from './breaker-registry';
import type { ClientView, EndpointView } from '../client/view';
import type { Middleware, Next } from './types';

/**
 * Prometheus's default buckets, which go-grpc-prometheus uses too: latency dashboards made for
 * Go services read Node services the same way.
 */
export const DEFAULT_HANDLING_SECONDS_BUCKETS: readonly number[] = Object.freeze([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);

export interface MetricsOptions {
  /**
   * Where the series are registered; nothing goes on prom-client's global registry. Any number of
   * clients and metrics() instances may share one registry: they share its series.
   */
  registry: Registry;
  /** Upper bounds of grpc_client_handling_seconds, in seconds. Default DEFAULT_HANDLING_SECONDS_BUCKETS. */
  buckets?: readonly number[];
  /** Wall clock in epoch ms, for the age of the last resolution; give the one given to createClient. */
  now?: () => number;
  /** Monotonic clock in ms (fractions welcome) that handling times are measured with. Default performance.now. */
  timer?: () => number;
  /**
   * Circuit breakers (circuitBreaker() makes them) whose transitions are counted and whose states
   * are shown, beyond those in the chains of the clients this middleware is attached to (those
   * are followed without being listed). Followed for as long as the registry lives; one listed by
   * several metrics() instances on a registry is counted once.
   */
  breakers?: readonly BreakerSource[];
}

/** What metrics needs of a circuit breaker; circuitBreaker()'s middleware has it. */
export interface BreakerSource {
  onStateChange(listener: (change: { readonly scope: string; readonly service: string; readonly from: string; readonly to: string }) => void): () => void;
  states(): readonly { readonly scope: string; readonly service: string; readonly state: string }[];
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

/** Series names, for queries, dashboards and tests. */
export const METRIC_NAMES = Object.freeze({
  started: 'grpc_client_started_total',
  handled: 'grpc_client_handled_total',
  handlingSeconds: 'grpc_client_handling_seconds',
  msgReceived: 'grpc_client_msg_received_total',
  msgSent: 'grpc_client_msg_sent_total',
  attempts: 'grpc_lb_attempts_total',
  endpointCalls: 'grpc_lb_endpoint_calls_total',
  pickFailures: 'grpc_lb_pick_failures_total',
  endpoints: 'grpc_lb_endpoints',
  resolverUpdates: 'grpc_lb_resolver_updates_total',
  resolverErrors: 'grpc_lb_resolver_errors_total',
  resolutionAge: 'grpc_lb_resolution_age_seconds',
  clients: 'grpc_lb_clients',
  breakerTransitions: 'grpc_lb_breaker_transitions_total',
  breakers: 'grpc_lb_breakers',
});

/** Breaker states, all present in grpc_lb_breakers (zeros included) for every scope in use. */
const BREAKER_STATES = Object.freeze(['closed', 'open', 'half_open'] as const);

/**
 * Why an endpoint is (or is not) in the picker, one state per endpoint. The order is the order of
 * precedence: a draining endpoint is leaving whatever else is true of it, a broken connection
 * makes its breaker and health state moot.
 */
export const ENDPOINT_STATES = Object.freeze(['draining', 'idle', 'connecting', 'transient_failure', 'ejected', 'not_serving', 'ready'] as const);
export type EndpointStateLabel = (typeof ENDPOINT_STATES)[number];

/**
 * grpc_code values are Go's names of the codes ("OK", "Unavailable", "DeadlineExceeded"), which
 * go-grpc-prometheus and java-grpc-prometheus emit: alert rules and dashboards written for those
 * (`grpc_code!="OK"`, `grpc_code=~"Unavailable|DeadlineExceeded"`) work unchanged, and a fleet
 * mixing Go and Node clients aggregates one series per code instead of two spellings.
 */
const CODE_NAMES = Object.freeze([
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
]);

/** The grpc_code label value of a status code. */
export function grpcCodeLabel(code: number): string {
  return CODE_NAMES[code] ?? `Code(${code})`;
}

/**
 * Outcome classes of per-endpoint series: `endpoint_error` holds the codes that count against
 * the endpoint (as the endpoint's own failure stats count them), `other_error` those that say
 * something about the request or the caller (CANCELLED, INVALID_ARGUMENT, NOT_FOUND …).
 */
export type CodeClass = 'ok' | 'endpoint_error' | 'other_error';

/** A target as a label value: without userinfo, query or fragment, where credentials and tokens hide. */
export function redactTarget(target: string): string {
  const cut = target.search(/[?#]/);
  const bare = cut >= 0 ? target.slice(0, cut) : target;
  return bare.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1');
}

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
 * that reached no endpoint count in grpc_lb_pick_failures_total; with `breakers`, circuit
 * breakers add grpc_lb_breaker_transitions_total and grpc_lb_breakers.
 *
 * Counters are kept as plain numbers on the call path and moved into prom-client at scrape
 * time, and the handling-time histogram is array-backed: the cost per call is a few hundred
 * nanoseconds, not the microseconds of prom-client's per-call label hashing.
 */
export function metrics(options: MetricsOptions): MetricsMiddleware {
  if (options === null || typeof options !== 'object') throw new TypeError('metrics(options): options must be an object with a registry');
  const { registry, buckets, now = Date.now, timer = defaultTimer, breakers = [] } = options;
  if (!registry || typeof registry.getSingleMetric !== 'function' || typeof registry.registerMetric !== 'function') {
    throw new TypeError('metrics: options.registry must be a prom-client Registry');
  }
  if (buckets !== undefined) checkBuckets(buckets);
  if (typeof now !== 'function') throw new TypeError('metrics: options.now must be a function returning epoch milliseconds');
  if (typeof timer !== 'function') throw new TypeError('metrics: options.timer must be a function returning milliseconds');
  if (!Array.isArray(breakers) || breakers.some((b) => !b || typeof b.onStateChange !== 'function' || typeof b.states !== 'function')) {
    throw new TypeError('metrics: options.breakers must be a list of circuit breakers (with onStateChange() and states())');
  }
  const instruments = Instruments.of(registry, buckets, now);
  for (const breaker of breakers) instruments.follow(breaker);

  const callLevel = ((next: Next): Next =>
    async (ctx) => {
      const cells = instruments.method(ctx);
      cells.started++;
      const startedAt = timer();
      const stream = ctx.type === 'unary' ? undefined : instruments.trackStream(ctx, cells);
      try {
        await next(ctx);
      } finally {
        const code = codeOf(ctx);
        cells.handling.observe((timer() - startedAt) / 1000);
        cells.handled[code]++;
        if (stream) instruments.untrackStream(stream);
        // Unary halves count as one message each way, as go-grpc-prometheus counts them.
        if (ctx.type === 'unary' || ctx.type === 'server_stream') cells.sent++;
        if ((ctx.type === 'unary' || ctx.type === 'client_stream') && code === Status.OK) cells.received++;
        if (!instruments.countsAttempts(ctx.client)) instruments.endpointOutcome(ctx, code);
      }
    }) as MetricsMiddleware;
  callLevel.attach = (view) => instruments.attach(view, 'call');

  const attempts = ((next: Next): Next =>
    async (ctx) => {
      try {
        await next(ctx);
      } finally {
        const cells = instruments.method(ctx);
        if (ctx.attempt > 1) cells.laterAttempts++;
        else cells.firstAttempts++;
        instruments.endpointOutcome(ctx, codeOf(ctx));
      }
    }) as Middleware;
  attempts.attach = (view) => instruments.attach(view, 'attempt');

  return Object.assign(callLevel, { attempts });
}

function defaultTimer(): number {
  return performance.now();
}

/** A call that ended without a status (a middleware threw) is reported INTERNAL by the client. */
function codeOf(ctx: CallContext): number {
  const code = ctx.status?.code ?? Status.INTERNAL;
  // grpc-js maps codes it does not know to UNKNOWN; so do we, to keep the per-code cells fixed.
  return code >= 0 && code < CODE_NAMES.length ? code : Status.UNKNOWN;
}

function checkBuckets(buckets: readonly number[]): void {
  const valid =
    Array.isArray(buckets) &&
    buckets.length > 0 &&
    buckets.every((b, i) => typeof b === 'number' && Number.isFinite(b) && (i === 0 || b > buckets[i - 1]));
  if (!valid) throw new TypeError(`metrics: options.buckets must be a non-empty list of finite, increasing numbers (seconds), got ${JSON.stringify(buckets)}`);
}

function stateOf(endpoint: EndpointView): EndpointStateLabel | undefined {
  if (endpoint.draining) return 'draining';
  const state = endpoint.state;
  if (state === 'shutdown') return undefined;
  if (state !== 'ready') return state;
  if (endpoint.ejected) return 'ejected';
  if (!endpoint.serving) return 'not_serving';
  return 'ready';
}

type Labels = Record<string, string>;
type Observer = { observe(value: number): void };
/** What a handling-time histogram must offer: ours, or a prom-client Histogram registered beforehand. */
type HistogramLike = { labels(labels: Labels): Observer; readonly upperBounds: readonly number[] };

/**
 * Counts of one method waiting for the next scrape. The hot path adds to plain numbers; the
 * series are brought up to date in their collect hooks, because a prom-client inc() hashes its
 * labels on every call, which would cost more than the rest of the middleware together.
 */
class MethodCells {
  readonly labels: Labels;
  started = 0;
  readonly handled: number[] = new Array(CODE_NAMES.length).fill(0);
  sent = 0;
  received = 0;
  firstAttempts = 0;
  laterAttempts = 0;
  readonly handling: Observer;

  constructor(type: CallType, path: string, histogram: HistogramLike) {
    // '/pkg.Service/Method', split as go-grpc-prometheus splits it.
    const bare = path.startsWith('/') ? path.slice(1) : path;
    const slash = bare.indexOf('/');
    this.labels = {
      grpc_type: type,
      grpc_service: slash >= 0 ? bare.slice(0, slash) : 'unknown',
      grpc_method: slash >= 0 ? bare.slice(slash + 1) : 'unknown',
    };
    this.handling = histogram.labels(this.labels);
  }
}

/** A stream in flight: its messages are counted as they pass, not only when it ends. */
interface StreamRecord {
  readonly ctx: CallContext;
  readonly cells: MethodCells;
  sent: number;
  received: number;
}

class EndpointCells {
  ok = 0;
  endpointError = 0;
  otherError = 0;

  constructor(
    readonly key: string,
    readonly labels: Readonly<Record<CodeClass, Labels>>,
  ) {}
}

interface Attachment {
  call: number;
  attempt: number;
  stop: () => void;
}

/**
 * The series of one registry and what feeds them, shared by every metrics() instance on that
 * registry so that clients add up instead of colliding on names.
 */
class Instruments {
  private static readonly byRegistry = new WeakMap<Registry, Instruments>();

  private readonly started: Counter<string>;
  private readonly handled: Counter<string>;
  private readonly handling: HistogramLike;
  private readonly msgReceived: Counter<string>;
  private readonly msgSent: Counter<string>;
  private readonly attempts: Counter<string>;
  private readonly endpointCalls: Counter<string>;
  private readonly pickFailures: Counter<string>;
  private readonly resolverUpdates: Counter<string>;
  private readonly resolverErrors: Counter<string>;
  private readonly endpointStates: Gauge<string>;
  private readonly resolutionAge: Gauge<string>;
  private readonly clients: Gauge<string>;
  private readonly breakerTransitions: Counter<string>;
  private readonly breakerStates: Gauge<string>;

  private readonly methods = new Map<string, MethodCells>();
  private readonly streams = new Set<StreamRecord>();
  private readonly endpoints = new Map<EndpointView, EndpointCells>();
  /** Endpoint objects (of any client) counted under one (service, address): the series goes when the last one leaves. */
  private readonly endpointRefs = new Map<string, number>();
  private readonly failedPicks = new Map<string, { labels: Labels; count: number }>();
  private readonly views = new Map<ClientView, Attachment>();
  private readonly breakers = new Set<BreakerSource>();

  static of(registry: Registry, buckets: readonly number[] | undefined, now: () => number): Instruments {
    const known = Instruments.byRegistry.get(registry);
    if (known && known.registeredOn(registry)) {
      if (buckets && !sameNumbers(buckets, known.buckets())) {
        throw new TypeError(
          `metrics: ${METRIC_NAMES.handlingSeconds} is already on this registry with buckets [${known.buckets().join(', ')}], not [${buckets.join(', ')}]`,
        );
      }
      return known;
    }
    const made = new Instruments(registry, buckets, now);
    Instruments.byRegistry.set(registry, made);
    return made;
  }

  private constructor(
    registry: Registry,
    buckets: readonly number[] | undefined,
    private readonly now: () => number,
  ) {
    const call = ['grpc_type', 'grpc_service', 'grpc_method'];
    const metric = new MetricFactory(registry);
    this.started = metric.counter(METRIC_NAMES.started, 'Total number of RPCs started on the client.', call, () => this.flushStarted());
    this.handled = metric.counter(
      METRIC_NAMES.handled,
      'Total number of RPCs completed by the client, regardless of success or failure.',
      [...call, 'grpc_code'],
      () => this.flushHandled(),
    );
    this.handling = metric.histogram(
      METRIC_NAMES.handlingSeconds,
      'Histogram of response latency (seconds) of the gRPC until it is finished by the application.',
      call,
      buckets,
    );
    this.msgReceived = metric.counter(METRIC_NAMES.msgReceived, 'Total number of RPC stream messages received by the client.', call, () => this.flushMessages('received'));
    this.msgSent = metric.counter(METRIC_NAMES.msgSent, 'Total number of gRPC stream messages sent by the client.', call, () => this.flushMessages('sent'));
    this.attempts = metric.counter(
      METRIC_NAMES.attempts,
      'Attempts sent for RPCs: attempt="first" once per call, "retry_or_hedge" for every further attempt of retries and hedging.',
      [...call, 'attempt'],
      () => this.flushAttempts(),
    );
    this.endpointCalls = metric.counter(
      METRIC_NAMES.endpointCalls,
      'Attempts finished on each endpoint, by outcome class: ok, endpoint_error (the codes that count against the endpoint) or other_error.',
      ['lb_service', 'address', 'code_class'],
      () => this.flushEndpoints(),
    );
    this.pickFailures = metric.counter(
      METRIC_NAMES.pickFailures,
      'Attempts that reached no endpoint (none available, or refused before one was picked), by the code they failed with.',
      ['lb_service', 'grpc_code'],
      () => this.flushPickFailures(),
    );
    this.resolverUpdates = metric.counter(METRIC_NAMES.resolverUpdates, 'Instance lists applied from the resolver.', ['lb_service']);
    this.resolverErrors = metric.counter(
      METRIC_NAMES.resolverErrors,
      'Resolver errors and unusable answers; the last good instance list is kept through them.',
      ['lb_service'],
    );
    this.endpointStates = metric.gauge(
      METRIC_NAMES.endpoints,
      'Endpoints by state; only "ready" ones are picked. Precedence: draining, the connection state, ejected (circuit breaker), not_serving (health check).',
      ['lb_service', 'state'],
      () => this.collectStates(),
    );
    this.resolutionAge = metric.gauge(
      METRIC_NAMES.resolutionAge,
      'Seconds since the resolver last gave a usable instance list (+Inf before the first); the oldest among clients of the service.',
      ['lb_service'],
      () => this.collectAges(),
    );
    this.clients = metric.gauge(METRIC_NAMES.clients, 'Open load-balanced clients, by service and target (without credentials or query).', ['lb_service', 'target'], () =>
      this.collectClients(),
    );
    this.breakerTransitions = metric.counter(
      METRIC_NAMES.breakerTransitions,
      'Circuit breaker state changes, by scope (endpoint or service) and the states left and entered.',
      ['lb_service', 'scope', 'from', 'to'],
    );
    this.breakerStates = metric.gauge(METRIC_NAMES.breakers, 'Circuit breakers by scope and state.', ['lb_service', 'scope', 'state'], () => this.collectBreakers());
  }

  follow(breaker: BreakerSource): void {
    if (this.breakers.has(breaker)) return;
    this.breakers.add(breaker);
    breaker.onStateChange((change) => this.breakerTransitions.inc({ lb_service: change.service, scope: change.scope, from: change.from, to: change.to }));
  }

  // Hot path

  method(ctx: CallContext): MethodCells {
    let cells = this.methods.get(ctx.method);
    if (cells === undefined) {
      cells = new MethodCells(ctx.type, ctx.method, this.handling);
      this.methods.set(ctx.method, cells);
    }
    return cells;
  }

  trackStream(ctx: CallContext, cells: MethodCells): StreamRecord {
    const record: StreamRecord = { ctx, cells, sent: 0, received: 0 };
    this.streams.add(record);
    return record;
  }

  untrackStream(record: StreamRecord): void {
    this.streams.delete(record);
    takeMessages(record);
  }

  countsAttempts(view: ClientView): boolean {
    const attachment = this.views.get(view);
    return attachment !== undefined && attachment.attempt > 0;
  }

  endpointOutcome(ctx: CallContext, code: number): void {
    const endpoint = ctx.endpoint;
    if (endpoint === undefined) {
      const key = `${ctx.service}\u0000${code}`;
      let entry = this.failedPicks.get(key);
      if (entry === undefined) this.failedPicks.set(key, (entry = { labels: { lb_service: ctx.service, grpc_code: grpcCodeLabel(code) }, count: 0 }));
      entry.count++;
      return;
    }
    let cells = this.endpoints.get(endpoint);
    if (cells === undefined) {
      // A call that outlived its endpoint would bring back a series already removed, for good.
      if (endpoint.state === 'shutdown' || !this.views.has(ctx.client)) return;
      cells = this.open(ctx.service, endpoint);
    }
    if (code === Status.OK) cells.ok++;
    else if (isEndpointFailure(code)) cells.endpointError++;
    else cells.otherError++;
  }

  // Clients

  attach(view: ClientView, level: 'call' | 'attempt'): () => void {
    let attachment = this.views.get(view);
    if (attachment === undefined) {
      const labels = { lb_service: view.service };
      // Zero from the start: rate() and increase() see the first update or error, not only later ones.
      this.resolverUpdates.inc(labels, 0);
      this.resolverErrors.inc(labels, 0);
      const stopObserving = view.observe({
        onResolved: () => this.resolverUpdates.inc(labels),
        onResolveError: () => this.resolverErrors.inc(labels),
        onEndpointRemoved: (endpoint) => this.close(endpoint),
      });
      // Circuit breakers in the same client's chain are followed without a `breakers` option.
      const stopFollowing = followBreakers(view, (breaker) => this.follow(breaker));
      const stop = () => {
        stopObserving();
        stopFollowing();
      };
      attachment = { call: 0, attempt: 0, stop };
      this.views.set(view, attachment);
    }
    attachment[level]++;
    const held = attachment;
    let detached = false;
    return () => {
      if (detached) return;
      detached = true;
      held[level]--;
      if (held.call + held.attempt > 0) return;
      held.stop();
      this.views.delete(view);
      for (const endpoint of view.endpoints()) this.close(endpoint);
    };
  }

  private open(service: string, endpoint: EndpointView): EndpointCells {
    const { address } = endpoint;
    const key = `${service}\u0000${address}`;
    const labelsOf = (code_class: CodeClass) => ({ lb_service: service, address, code_class });
    const cells = new EndpointCells(key, { ok: labelsOf('ok'), endpoint_error: labelsOf('endpoint_error'), other_error: labelsOf('other_error') });
    this.endpoints.set(endpoint, cells);
    this.endpointRefs.set(key, (this.endpointRefs.get(key) ?? 0) + 1);
    return cells;
  }

  private close(endpoint: EndpointView): void {
    const cells = this.endpoints.get(endpoint);
    if (cells === undefined) return;
    this.endpoints.delete(endpoint);
    const refs = (this.endpointRefs.get(cells.key) ?? 1) - 1;
    if (refs > 0) {
      // Another client still counts calls to this address: its last counts stay in the series.
      this.endpointRefs.set(cells.key, refs);
      this.endpointCalls.inc(cells.labels.ok, cells.ok);
      this.endpointCalls.inc(cells.labels.endpoint_error, cells.endpointError);
      this.endpointCalls.inc(cells.labels.other_error, cells.otherError);
      return;
    }
    this.endpointRefs.delete(cells.key);
    for (const labels of Object.values(cells.labels)) this.endpointCalls.remove(labels);
  }

  // Scrape time

  private flushStarted(): void {
    for (const cells of this.methods.values()) {
      if (cells.started === 0) continue;
      this.started.inc(cells.labels, cells.started);
      cells.started = 0;
    }
  }

  private flushHandled(): void {
    for (const cells of this.methods.values()) {
      const handled = cells.handled;
      for (let code = 0; code < handled.length; code++) {
        if (handled[code] === 0) continue;
        this.handled.inc({ ...cells.labels, grpc_code: CODE_NAMES[code] }, handled[code]);
        handled[code] = 0;
      }
    }
  }

  private flushMessages(field: 'sent' | 'received'): void {
    for (const record of this.streams) takeMessages(record);
    const counter = field === 'sent' ? this.msgSent : this.msgReceived;
    for (const cells of this.methods.values()) {
      if (cells[field] === 0) continue;
      counter.inc(cells.labels, cells[field]);
      cells[field] = 0;
    }
  }

  private flushAttempts(): void {
    for (const cells of this.methods.values()) {
      if (cells.firstAttempts > 0) this.attempts.inc({ ...cells.labels, attempt: 'first' }, cells.firstAttempts);
      if (cells.laterAttempts > 0) this.attempts.inc({ ...cells.labels, attempt: 'retry_or_hedge' }, cells.laterAttempts);
      cells.firstAttempts = 0;
      cells.laterAttempts = 0;
    }
  }

  private flushEndpoints(): void {
    for (const cells of this.endpoints.values()) {
      // inc(…, 0) on the first scrape makes all three classes visible at once.
      this.endpointCalls.inc(cells.labels.ok, cells.ok);
      this.endpointCalls.inc(cells.labels.endpoint_error, cells.endpointError);
      this.endpointCalls.inc(cells.labels.other_error, cells.otherError);
      cells.ok = cells.endpointError = cells.otherError = 0;
    }
  }

  private flushPickFailures(): void {
    for (const entry of this.failedPicks.values()) {
      if (entry.count === 0) continue;
      this.pickFailures.inc(entry.labels, entry.count);
      entry.count = 0;
    }
  }

  private collectStates(): void {
    const counts = new Map<string, Record<EndpointStateLabel, number>>();
    for (const view of this.views.keys()) {
      let byState = counts.get(view.service);
      if (byState === undefined) {
        byState = Object.fromEntries(ENDPOINT_STATES.map((state) => [state, 0])) as Record<EndpointStateLabel, number>;
        counts.set(view.service, byState);
      }
      for (const endpoint of view.endpoints()) {
        const state = stateOf(endpoint);
        if (state) byState[state]++;
      }
    }
    // Closed clients' services disappear; every state of a live one is present, zeros included,
    // so "no ready endpoints" is a value, not a missing series.
    this.endpointStates.reset();
    for (const [service, byState] of counts) {
      for (const state of ENDPOINT_STATES) this.endpointStates.set({ lb_service: service, state }, byState[state]);
    }
  }

  private collectAges(): void {
    const ages = new Map<string, number>();
    const now = this.now();
    for (const view of this.views.keys()) {
      const at = view.lastResolvedAt();
      const age = at > 0 ? Math.max(0, now - at) / 1000 : Infinity;
      ages.set(view.service, Math.max(ages.get(view.service) ?? 0, age));
    }
    this.resolutionAge.reset();
    for (const [service, age] of ages) this.resolutionAge.set({ lb_service: service }, age);
  }

  private collectClients(): void {
    this.clients.reset();
    for (const view of this.views.keys()) this.clients.inc({ lb_service: view.service, target: redactTarget(view.target) });
  }

  private collectBreakers(): void {
    const counts = new Map<string, { labels: Labels; count: number }>();
    for (const breaker of this.breakers) {
      for (const { scope, service, state } of breaker.states()) {
        for (const each of BREAKER_STATES) {
          const key = `${service}\u0000${scope}\u0000${each}`;
          if (!counts.has(key)) counts.set(key, { labels: { lb_service: service, scope, state: each }, count: 0 });
        }
        const entry = counts.get(`${service}\u0000${scope}\u0000${state}`);
        if (entry) entry.count++;
      }
    }
    this.breakerStates.reset();
    for (const { labels, count } of counts.values()) this.breakerStates.set(labels, count);
  }

  private registeredOn(registry: Registry): boolean {
    return registry.getSingleMetric(METRIC_NAMES.started) === (this.started as unknown) && registry.getSingleMetric(METRIC_NAMES.clients) === (this.clients as unknown);
  }

  private buckets(): readonly number[] {
    return this.handling.upperBounds;
  }
}

function takeMessages(record: StreamRecord): void {
  const { ctx, cells } = record;
  cells.sent += ctx.messagesSent - record.sent;
  cells.received += ctx.messagesReceived - record.received;
  record.sent = ctx.messagesSent;
  record.received = ctx.messagesReceived;
}

function sameNumbers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

type AnyMetric = { name?: string; type?: string; labelNames?: readonly string[]; collect?: () => unknown };

/**
 * Makes a registry's metrics, or takes over one of the same name already there when it has the
 * same type and labels (registered by the user to give it other help text or buckets, or by
 * another copy of this library). Anything else of that name is a conflict, reported by name.
 */
class MetricFactory {
  constructor(private readonly registry: Registry) {}

  counter(name: string, help: string, labelNames: string[], flush?: () => void): Counter<string> {
    const existing = this.existing(name, 'counter', labelNames, flush);
    return (existing as Counter<string> | undefined) ?? new Counter({ name, help, labelNames, registers: [this.registry], collect: flush });
  }

  /** Gauges are computed whole at scrape from this registry's clients: one already there would compete, so it is a conflict. */
  gauge(name: string, help: string, labelNames: string[], collect: () => void): Gauge<string> {
    if (this.registry.getSingleMetric(name) !== undefined) {
      throw new TypeError(`metrics: the registry already has ${name}, registered by hand or by another copy of this library: remove it or give metrics() another registry`);
    }
    return new Gauge({ name, help, labelNames, registers: [this.registry], collect });
  }

  /** Without `buckets`, a histogram already there is taken with its own; with them, it must have the same. */
  histogram(name: string, help: string, labelNames: string[], buckets: readonly number[] | undefined): HistogramLike {
    const existing = this.existing(name, 'histogram', labelNames, undefined) as HistogramLike | undefined;
    if (existing === undefined) {
      const made = new BufferedHistogram(name, help, labelNames, buckets ?? DEFAULT_HANDLING_SECONDS_BUCKETS);
      this.registry.registerMetric(made as unknown as Metric<string>);
      return made;
    }
    if (buckets && !sameNumbers(buckets, existing.upperBounds)) {
      throw new TypeError(`metrics: the registry already has ${name} with buckets [${existing.upperBounds.join(', ')}], not [${buckets.join(', ')}]`);
    }
    return existing;
  }

  private existing(name: string, type: string, labelNames: string[], hook: (() => void) | undefined): AnyMetric | undefined {
    const found = this.registry.getSingleMetric(name) as AnyMetric | undefined;
    if (found === undefined) return undefined;
    const theirs = [...(found.labelNames ?? [])].sort();
    if (found.type !== type || !sameStrings(theirs, [...labelNames].sort())) {
      throw new TypeError(
        `metrics: the registry already has ${name} as a ${found.type ?? 'metric'} with labels [${theirs.join(', ')}]; ` +
          `this library needs a ${type} with labels [${labelNames.join(', ')}]: remove it or give metrics() another registry`,
      );
    }
    if (hook) {
      const previous = found.collect;
      found.collect = function (this: unknown) {
        hook();
        return previous?.call(this);
      };
    }
    return found;
  }
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * A histogram whose observe() is an array increment. prom-client's Histogram hashes the label set
 * on every observation, about a microsecond: more than the rest of this middleware together. This
 * one keeps its counts per label set in plain arrays and renders prom-client's histogram format
 * (cumulative `_bucket` with `le`, `_sum`, `_count`) at scrape time, so the registry, its text
 * and JSON output and cluster aggregation treat it as any other histogram.
 */
class BufferedHistogram implements HistogramLike {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly upperBounds: readonly number[];
  private readonly series = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    buckets: readonly number[],
  ) {
    this.upperBounds = Object.freeze([...buckets]);
  }

  labels(labels: Labels): HistogramSeries {
    const key = this.labelNames.map((name) => labels[name]).join('\u0000');
    let series = this.series.get(key);
    if (series === undefined) this.series.set(key, (series = new HistogramSeries({ ...labels }, this.upperBounds)));
    return series;
  }

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: { labels: Record<string, string | number>; value: number; metricName: string }[] }> {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    const bucket = `${this.name}_bucket`;
    for (const { labels, counts, sum, count } of this.series.values()) {
      let cumulative = 0;
      for (let i = 0; i < this.upperBounds.length; i++) {
        cumulative += counts[i];
        values.push({ labels: { ...labels, le: this.upperBounds[i] }, value: cumulative, metricName: bucket });
      }
      values.push({ labels: { ...labels, le: '+Inf' }, value: count, metricName: bucket });
      values.push({ labels, value: sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** registry.resetMetrics(): zeroes in place, since the hot path holds on to its series. */
  reset(): void {
    for (const series of this.series.values()) series.reset();
  }
}

class HistogramSeries implements Observer {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Labels>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    // Upper bounds are inclusive (`le`); past the last one only +Inf, which is `count`, holds it.
    while (i < bounds.length && value > bounds[i]) i++;
    if (i < bounds.length) this.counts[i]++;
    this.sum += value;
    this.count++;
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}
