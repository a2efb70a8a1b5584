import { Metadata, status as Status } from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import type { CallContext } from '../client/context';
import type { Logger } from '../client/logger';
import type { ClientEndpoint } from '../client/endpoint';
import { isEndpointFailure } from '../core/status';
import type { ClientView } from '../client/view';
import { durationOption } from '../core/duration';
import { describeValue, excerpt } from '../core/text';
import { Breaker, type WindowConfig } from './breaker-window';
import { announceBreaker, endpointBreakerEjects } from './breaker-registry';
import { checkObject, codeSet, fn, integerAtLeast, optionalFn, PUSHBACK_KEY, type Timers } from './budget';
import type { Middleware, Next } from './types';

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
  now?: () => number;
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

/** With a balancer in front, one bad instance is the common failure; the others can take its calls. */
export const DEFAULT_BREAKER_SCOPE: BreakerScope = 'endpoint';
/** Kitex's default: half the calls failing is an outage, not noise. */
export const DEFAULT_ERROR_RATE = 0.5;
/** Kitex's default: a rate over fewer calls says too little to cut a service off. */
export const DEFAULT_MIN_SAMPLES = 200;
/** Kitex's window: long enough to gather minSamples at modest traffic, short enough to forget an old incident. */
export const DEFAULT_WINDOW_MS = 10_000;
/** One-second buckets: the window slides in steps a tenth of its length. */
export const DEFAULT_BUCKETS = 10;
/** Envoy's consecutive_5xx default; catches a dead endpoint at low traffic, where minSamples never fills. */
export const DEFAULT_CONSECUTIVE_FAILURES = 5;
/**
 * Off for the service: a run of failures is what one dying instance produces (the calls that were
 * on it), and a service breaker that opened on it would turn one instance's crash into an outage.
 */
export const DEFAULT_SERVICE_CONSECUTIVE_FAILURES = 0;
/** Finer buckets buy little precision and cost memory and roll time per breaker. */
export const MAX_BUCKETS = 1_000;
/** Kitex's cool-down: time for a restart or a failover to happen, short enough not to waste a healthy instance for long. */
export const DEFAULT_OPEN_MS = 5_000;
/** One call risked per try: a still-broken endpoint costs one failure, not a burst. */
export const DEFAULT_HALF_OPEN_PROBES = 1;
/** At most half: with more ejected, the fault is more likely the client's side or the whole service. */
export const DEFAULT_MAX_EJECTION_SHARE = 0.5;
export const DEFAULT_FAILURE_CODES: readonly Status[] = Object.freeze(
  (Object.values(Status).filter((code) => typeof code === 'number') as Status[]).filter(isEndpointFailure),
);

const unrefTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

interface BreakerConfig extends WindowConfig {
  readonly openMs: number;
  readonly halfOpenProbes: number;
  readonly failures: ReadonlySet<Status>;
  readonly timers: Timers;
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
 */
export function circuitBreaker(options: CircuitBreakerOptions = {}): CircuitBreaker {
  checkObject('circuitBreaker', options);
  const scope = options.scope ?? DEFAULT_BREAKER_SCOPE;
  if (scope !== 'endpoint' && scope !== 'service') throw new TypeError(`circuitBreaker: options.scope must be 'endpoint' or 'service', got ${describeValue(scope)}`);
  const errorRate = options.errorRate ?? DEFAULT_ERROR_RATE;
  if (typeof errorRate !== 'number' || !(errorRate > 0 && errorRate <= 1)) {
    throw new TypeError(`circuitBreaker: options.errorRate must be a number in (0, 1], got ${describeValue(errorRate)}`);
  }
  const windowMs = durationOption('circuitBreaker', 'options.windowMs', options.windowMs, DEFAULT_WINDOW_MS, { min: 1 });
  const buckets = integerAtLeast('circuitBreaker', 'buckets', options.buckets, 1, DEFAULT_BUCKETS);
  if (buckets > MAX_BUCKETS || windowMs / buckets < 1) {
    throw new RangeError(`circuitBreaker: options.buckets must be at most ${MAX_BUCKETS} and leave buckets of at least 1 ms (windowMs ${windowMs}), got ${buckets}`);
  }
  const config: BreakerConfig = {
    errorRate,
    minSamples: integerAtLeast('circuitBreaker', 'minSamples', options.minSamples, 1, DEFAULT_MIN_SAMPLES),
    windowMs,
    buckets,
    bucketMs: windowMs / buckets,
    consecutiveFailures: integerAtLeast(
      'circuitBreaker',
      'consecutiveFailures',
      options.consecutiveFailures,
      0,
      scope === 'service' ? DEFAULT_SERVICE_CONSECUTIVE_FAILURES : DEFAULT_CONSECUTIVE_FAILURES,
    ),
    openMs: durationOption('circuitBreaker', 'options.openMs', options.openMs, DEFAULT_OPEN_MS, { min: 1 }),
    halfOpenProbes: integerAtLeast('circuitBreaker', 'halfOpenProbes', options.halfOpenProbes, 1, DEFAULT_HALF_OPEN_PROBES),
    failures: codeSet('circuitBreaker', 'failureCodes', options.failureCodes, DEFAULT_FAILURE_CODES),
    now: fn('circuitBreaker', 'now', options.now, () => performance.now()),
    timers: options.timers === undefined ? unrefTimers : checkTimers(options.timers),
  };
  const maxEjectionShare = options.maxEjectionShare ?? DEFAULT_MAX_EJECTION_SHARE;
  if (typeof maxEjectionShare !== 'number' || !(maxEjectionShare > 0 && maxEjectionShare <= 1)) {
    throw new TypeError(`circuitBreaker: options.maxEjectionShare must be a number in (0, 1], got ${describeValue(maxEjectionShare)}`);
  }
  const key = optionalFn('circuitBreaker', 'key', options.key);
  const name = options.name ?? 'service';
  if (typeof name !== 'string' || name.length === 0) throw new TypeError('circuitBreaker: options.name must be a non-empty string');
  if (scope === 'endpoint') {
    if (options.key !== undefined) throw new TypeError("circuitBreaker: options.key applies to scope 'service' only");
    if (options.name !== undefined) throw new TypeError("circuitBreaker: options.name applies to scope 'service' only");
  } else if (options.maxEjectionShare !== undefined) {
    throw new TypeError("circuitBreaker: options.maxEjectionShare applies to scope 'endpoint' only");
  }
  const events = new Events(scope, optionalFn('circuitBreaker', 'onStateChange', options.onStateChange));
  const breakers: BreakerSet = scope === 'endpoint' ? new EndpointBreakers(config, events, maxEjectionShare) : new ServiceBreakers(config, events, key, name);

  const middleware = ((next: Next) => breakers.wrap(next)) as CircuitBreaker;
  if (breakers.picked) middleware.picked = (ctx, endpoint) => breakers.picked!(ctx, endpoint);
  const self = Object.assign(middleware, {
    scope,
    attach: (client: ClientView) => {
      const stop = breakers.attach(client);
      // Others in the chain find it: metrics counts its transitions, a service breaker asks it.
      const leave = announceBreaker(client, self, breakers.canEject?.bind(breakers));
      return () => {
        leave();
        stop();
      };
    },
    state: (k: string) => breakers.state(k),
    states: () => breakers.states(),
    onStateChange: (listener: BreakerListener) => events.add(listener),
  });
  return self;
}

function checkTimers(timers: Timers): Timers {
  if (timers === null || typeof timers !== 'object' || typeof timers.setTimeout !== 'function' || typeof timers.clearTimeout !== 'function') {
    throw new TypeError('circuitBreaker: options.timers must have setTimeout(callback, ms) and clearTimeout(handle)');
  }
  return timers;
}

const TRANSITION_WORDS: Readonly<Record<BreakerState, string>> = { open: 'opened', half_open: 'half-open: letting probes through', closed: 'closed' };

class Events {
  private readonly listeners = new Set<BreakerListener>();

  constructor(
    private readonly scope: BreakerScope,
    listener: BreakerListener | undefined,
  ) {
    if (listener) this.listeners.add(listener);
  }

  add(listener: BreakerListener): () => void {
    if (typeof listener !== 'function') throw new TypeError('circuitBreaker.onStateChange(listener): listener must be a function');
    // A wrapper per subscription, so the same function added twice is removed once per call.
    const entry: BreakerListener = (change) => listener(change);
    this.listeners.add(entry);
    return () => this.listeners.delete(entry);
  }

  emit(breaker: Breaker, from: BreakerState, reason: string, logger: Logger | undefined): void {
    logger?.info({ service: breaker.service, scope: this.scope, key: this.scope === 'service' ? excerpt(breaker.key) : breaker.key, from, to: breaker.state, reason }, `${this.scope} circuit breaker ${TRANSITION_WORDS[breaker.state]}`);
    if (this.listeners.size === 0) return;
    const change: BreakerStateChange = { scope: this.scope, key: breaker.key, service: breaker.service, target: breaker.target, from, to: breaker.state, reason };
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch {
        // A metrics hook must not break calls nor leave the breaker half-switched.
      }
    }
  }
}

interface BreakerSet {
  wrap(next: Next): Next;
  picked?(ctx: CallContext, endpoint: ClientEndpoint): void;
  attach(client: ClientView): () => void;
  state(key: string): BreakerState | undefined;
  states(): BreakerSnapshot[];
  canEject?(client: ClientView, address: string): boolean;
}

/**
 * Breakers per endpoint, kept in a WeakMap on the endpoint object so they go with it. An open
 * breaker ejects its endpoint; after openMs a timer lets it back in half-open.
 */
class EndpointBreakers implements BreakerSet {
  private readonly breakers = new WeakMap<ClientEndpoint, Breaker>();
  private readonly clients = new Set<ClientView>();
  /** Attempts sent to half-open endpoints and not yet answered, with where they went. */
  private readonly probing = new WeakMap<CallContext, ClientEndpoint>();
  private probesOut = 0;

  constructor(
    private readonly config: BreakerConfig,
    private readonly events: Events,
    private readonly maxEjectionShare: number,
  ) {}

  wrap(next: Next): Next {
    return async (ctx) => {
      try {
        await next(ctx);
      } finally {
        this.settle(ctx);
      }
    };
  }

  /** After an attempt, also one that threw: frees its probe slot and records its outcome. */
  private settle(ctx: CallContext): void {
    const endpoint = ctx.endpoint as ClientEndpoint | undefined;
    const status = ctx.status;
    // Only while probes are out is there a probe to look for: a counter spares the lookup.
    let probe = false;
    if (this.probesOut > 0) {
      const probed = this.probing.get(ctx);
      if (probed !== undefined) {
        this.probing.delete(ctx);
        this.probesOut--;
        probe = probed === endpoint && status !== undefined;
        // The probe ended without an answer to judge: free its slot.
        if (!probe) this.probeEnded(this.breakers.get(probed), probed);
      }
    }
    if (endpoint === undefined || status === undefined) return;
    let breaker = this.breakers.get(endpoint);
    if (breaker === undefined) {
      this.breakers.set(endpoint, (breaker = new Breaker(this.config, endpoint.address, ctx.service, ctx.target)));
      breaker.logger = ctx.client.logger;
    }
    this.record(ctx, endpoint, breaker, status.code, probe);
  }

  /** The pick of an attempt, before it is sent: a half-open endpoint's pick is a probe. */
  picked(ctx: CallContext, endpoint: ClientEndpoint): void {
    const breaker = this.breakers.get(endpoint);
    if (breaker === undefined || breaker.state !== 'half_open') return;
    const earlier = this.probing.get(ctx);
    if (earlier !== undefined) {
      // A second pick before this middleware saw the first answer: it sits above a retry.
      this.probeEnded(this.breakers.get(earlier), earlier);
      this.probesOut--;
    }
    this.probing.set(ctx, endpoint);
    this.probesOut++;
    breaker.probes++;
    // Enough probes out: further calls go elsewhere until one answers.
    if (breaker.probes >= this.config.halfOpenProbes) endpoint.setEjected(true);
  }

  private probeEnded(breaker: Breaker | undefined, endpoint: ClientEndpoint): void {
    if (breaker === undefined) return;
    if (breaker.probes > 0) breaker.probes--;
    if (breaker.state === 'half_open' && breaker.probes < this.config.halfOpenProbes) endpoint.setEjected(false);
  }

  private record(ctx: CallContext, endpoint: ClientEndpoint, breaker: Breaker, code: Status, probe: boolean): void {
    if (breaker.state === 'open') return;
    if (code === Status.CANCELLED) {
      if (probe) this.probeEnded(breaker, endpoint);
      return;
    }
    const failed = this.config.failures.has(code);
    if (breaker.state === 'closed') {
      if (breaker.add(failed)) this.open(ctx.client, endpoint, breaker);
      return;
    }
    // Half-open: every answer counts, a probe's or that of a call sent before the breaker opened.
    if (probe && breaker.probes > 0) breaker.probes--;
    if (failed) {
      breaker.reason = `probe failed with ${Status[code]}`;
      this.open(ctx.client, endpoint, breaker);
    } else if (++breaker.probeSuccesses >= this.config.halfOpenProbes) {
      this.close(endpoint, breaker, `${breaker.probeSuccesses} probe(s) succeeded`);
    } else if (breaker.probes < this.config.halfOpenProbes) {
      endpoint.setEjected(false);
    }
  }

  private open(client: ClientView, endpoint: ClientEndpoint, breaker: Breaker): void {
    if (endpoint.draining || endpoint.state === 'shutdown') return;
    if (!this.mayEject(client, endpoint)) {
      // Ejecting it would leave too few endpoints: it stays in, and the next failure asks again.
      if (breaker.state === 'half_open') this.close(endpoint, breaker, `${breaker.reason}, but ejecting it would pass the max ejection share`);
      return;
    }
    const from = breaker.state;
    breaker.state = 'open';
    breaker.probes = 0;
    breaker.openUntil = this.config.now() + this.config.openMs;
    endpoint.setEjected(true, breaker.reason);
    const timers = this.config.timers;
    if (breaker.timer !== undefined) timers.clearTimeout(breaker.timer);
    breaker.timer = timers.setTimeout(() => this.halfOpen(endpoint, breaker), this.config.openMs);
    this.events.emit(breaker, from, breaker.reason, breaker.logger);
  }

  private halfOpen(endpoint: ClientEndpoint, breaker: Breaker): void {
    breaker.timer = undefined;
    if (breaker.state !== 'open') return;
    breaker.state = 'half_open';
    breaker.probes = 0;
    breaker.probeSuccesses = 0;
    endpoint.setEjected(false, 'half-open: probing');
    this.events.emit(breaker, 'open', `open for ${this.config.openMs / 1000} s`, breaker.logger);
  }

  private close(endpoint: ClientEndpoint, breaker: Breaker, reason: string): void {
    const from = breaker.state;
    breaker.state = 'closed';
    breaker.probes = 0;
    breaker.reset();
    endpoint.setEjected(false, from === 'open' ? reason : undefined);
    this.events.emit(breaker, from, reason, breaker.logger);
  }

  /**
   * Whether the endpoint at `address` is this breaker's business: ejected, or within the max
   * ejection share to be, with others left to take its calls. One that has left the client
   * (a crashed instance deregistered) counts too.
   */
  canEject(client: ClientView, address: string): boolean {
    if (!this.clients.has(client)) return false;
    for (const endpoint of client.endpoints()) {
      if (endpoint.address !== address) continue;
      if (endpoint.draining || endpoint.ejected) return true;
      return this.mayEject(client, endpoint);
    }
    return true;
  }

  /** The max ejection share, over the client's endpoints that are not draining. */
  private mayEject(client: ClientView, endpoint: ClientEndpoint): boolean {
    let total = 0;
    let ejected = 0;
    for (const other of client.endpoints()) {
      if (other.draining) continue;
      total++;
      if (other !== endpoint && other.ejected) ejected++;
    }
    return ejected + 1 <= Math.floor(total * this.maxEjectionShare);
  }

  attach(client: ClientView): () => void {
    this.clients.add(client);
    const drop = (endpoint: ClientEndpoint) => {
      const breaker = this.breakers.get(endpoint);
      if (breaker?.timer !== undefined) this.config.timers.clearTimeout(breaker.timer);
      this.breakers.delete(endpoint);
    };
    const stop = client.observe({ onEndpointRemoved: drop });
    return () => {
      stop();
      this.clients.delete(client);
      for (const endpoint of client.endpoints()) drop(endpoint);
    };
  }

  state(address: string): BreakerState | undefined {
    for (const client of this.clients) {
      for (const endpoint of client.endpoints()) {
        if (endpoint.address === address) return this.breakers.get(endpoint)?.state ?? 'closed';
      }
    }
    return undefined;
  }

  states(): BreakerSnapshot[] {
    const out: BreakerSnapshot[] = [];
    for (const client of this.clients) {
      for (const endpoint of client.endpoints()) {
        const breaker = this.breakers.get(endpoint);
        if (breaker) out.push(breaker.snapshot('endpoint'));
      }
    }
    return out;
  }
}

/**
 * Breakers per client and key. An open one refuses calls with UNAVAILABLE; after openMs the
 * next call finds it half-open and goes through as a probe (no timer: refusals need calls).
 */
class ServiceBreakers implements BreakerSet {
  private readonly byClient = new WeakMap<ClientView, Map<string, Breaker>>();
  private readonly clients = new Set<ClientView>();
  private lastClient: ClientView | undefined = undefined;
  private lastBreaker: Breaker | undefined = undefined;

  constructor(
    private readonly config: BreakerConfig,
    private readonly events: Events,
    private readonly key: ((ctx: CallContext) => string) | undefined,
    private readonly name: string,
  ) {}

  wrap(next: Next): Next {
    return async (ctx) => {
      const breaker = this.breakerFor(ctx);
      let probe = false;
      if (breaker.state !== 'closed') {
        if (!this.admit(breaker)) {
          this.refuse(ctx, breaker);
          return;
        }
        probe = true;
      }
      try {
        await next(ctx);
      } finally {
        if (probe && breaker.probes > 0) breaker.probes--;
      }
      const status = ctx.status;
      if (status === undefined) return;
      const code = status.code;
      if (code === Status.CANCELLED) return;
      const failed = this.config.failures.has(code);
      if (breaker.state === 'closed') {
        const client = ctx.client;
        if (breaker.add(failed, ctx.endpoint?.address, failed ? (address) => endpointBreakerEjects(client, address) : undefined)) this.open(breaker);
      } else if (breaker.state === 'half_open' && probe) {
        if (failed) {
          breaker.reason = `probe failed with ${Status[code]}`;
          this.open(breaker);
        } else if (++breaker.probeSuccesses >= this.config.halfOpenProbes) {
          const from = breaker.state;
          breaker.state = 'closed';
          breaker.reset();
          this.events.emit(breaker, from, `${breaker.probeSuccesses} probe(s) succeeded`, breaker.logger);
        }
      }
    };
  }

  private breakerFor(ctx: CallContext): Breaker {
    const client = ctx.client;
    if (this.key === undefined && client === this.lastClient) return this.lastBreaker!;
    const key = this.key === undefined ? ctx.service : this.key(ctx);
    let map = this.byClient.get(client);
    if (map === undefined) this.byClient.set(client, (map = new Map()));
    let breaker = map.get(key);
    if (breaker === undefined) {
      // spread: the service breaker sets aside the failures of one endpoint an endpoint breaker deals with.
      map.set(key, (breaker = new Breaker(this.config, key, ctx.service, ctx.target, true)));
      breaker.logger = client.logger;
    }
    if (this.key === undefined) {
      this.lastClient = client;
      this.lastBreaker = breaker;
    }
    return breaker;
  }

  /** Lets a call through an open or half-open breaker as a probe, when one is due. */
  private admit(breaker: Breaker): boolean {
    this.refresh(breaker);
    if (breaker.state !== 'half_open' || breaker.probes >= this.config.halfOpenProbes) return false;
    breaker.probes++;
    return true;
  }

  /** An open breaker whose time is up is half-open. */
  private refresh(breaker: Breaker): void {
    if (breaker.state !== 'open' || this.config.now() < breaker.openUntil) return;
    breaker.state = 'half_open';
    breaker.probes = 0;
    breaker.probeSuccesses = 0;
    this.events.emit(breaker, 'open', `open for ${this.config.openMs / 1000} s`, breaker.logger);
  }

  private refuse(ctx: CallContext, breaker: Breaker): void {
    const where = `"${ctx.service}" (${ctx.target})${breaker.key === ctx.service ? '' : `, key ${excerpt(breaker.key)}`}`;
    const metadata = new Metadata();
    let message: string;
    if (breaker.state === 'open') {
      const wait = Math.max(0, Math.ceil(breaker.openUntil - this.config.now()));
      // Tells a retry outside this breaker (gRPC's pushback): not before the breaker lets probes through.
      metadata.set(PUSHBACK_KEY, String(wait));
      message = `${this.name} circuit breaker is open for ${where}: ${breaker.reason}; probing again in ${(wait / 1000).toFixed(1)} s`;
    } else {
      message = `${this.name} circuit breaker is half-open for ${where}: waiting for ${breaker.probes} probe(s) to answer`;
    }
    ctx.fail(Status.UNAVAILABLE, message, metadata);
  }

  private open(breaker: Breaker): void {
    const from = breaker.state;
    breaker.state = 'open';
    breaker.openUntil = this.config.now() + this.config.openMs;
    this.events.emit(breaker, from, breaker.reason, breaker.logger);
  }

  attach(client: ClientView): () => void {
    this.clients.add(client);
    return () => {
      this.clients.delete(client);
      this.byClient.delete(client);
      if (this.lastClient === client) {
        this.lastClient = undefined;
        this.lastBreaker = undefined;
      }
    };
  }

  state(key: string): BreakerState | undefined {
    for (const client of this.clients) {
      const breaker = this.byClient.get(client)?.get(key);
      if (breaker) {
        this.refresh(breaker);
        return breaker.state;
      }
    }
    return undefined;
  }

  states(): BreakerSnapshot[] {
    const out: BreakerSnapshot[] = [];
    for (const client of this.clients) {
      for (const breaker of this.byClient.get(client)?.values() ?? []) {
        this.refresh(breaker);
        out.push(breaker.snapshot('service'));
      }
    }
    return out;
  }
}
