import type { Client } from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import type { Balancer, PickInfo, Picker } from '../balancer/types';
import { parseAddress } from '../resolver/address';
import type { Instance, ResolverListener } from '../resolver/types';
import { ClientEndpoint, type EndpointHost, type EndpointInfo } from './endpoint';
import type { Logger } from './logger';
import { asError } from '../resolver/listener';
import { durationOption } from '../core/duration';
import { describeValue, excerpt, MAX_EXCERPT_CHARS } from '../core/text';

/** Follows what happens to an endpoint set: for metrics, health checking and tests. */
export interface EndpointSetObserver {
  /** A resolver update was applied (after validation). */
  onResolved?(instances: readonly Instance[]): void;
  /** A resolver reported an error, or sent a list that could not be used. */
  onResolveError?(error: Error): void;
  onEndpointAdded?(endpoint: ClientEndpoint): void;
  /** The endpoint has closed for good (after draining). */
  onEndpointRemoved?(endpoint: ClientEndpoint): void;
  /** State, availability or weight changed. */
  onEndpointChanged?(endpoint: ClientEndpoint): void;
}

export interface EndpointSetOptions {
  readonly service: string;
  readonly target: string;
  readonly balancer: Balancer;
  readonly makeClient: (address: string) => Client;
  readonly connectTimeoutMs: number;
  /** Wall clock, epoch ms. */
  readonly now: () => number;
  /** Monotonic clock in ms for the endpoints' moving averages: sub-millisecond, so replies in one tick still count. */
  readonly statsClock: () => number;
  readonly random: () => number;
  readonly logger: Logger;
  /** Asks the resolver for a fresh list: called when an endpoint starts failing to connect. */
  readonly resolveNow?: () => void;
}

/** Why nothing could be picked: whether waiting can help, and what to tell the caller if not. */
export interface Unavailability {
  readonly wait: boolean;
  readonly message: string;
}

const DEFAULT_WEIGHT = 1;
/** A log line names at most this many addresses; the counts say the rest. */
const MAX_LOGGED_ADDRESSES = 20;

/** Rebuilds are spaced at least this many times their own duration apart: at most ~10 % of the time goes to them. */
const REBUILD_COST_FACTOR = 10;
/**
 * However slow the last rebuild was (the first ones run before the JIT has warmed up), the picker
 * lags endpoints() by at most this long.
 */
const MAX_REBUILD_HOLD_MS = 50;

/**
 * The live endpoints of one service: one grpc-js channel per address, kept in step with the
 * resolver, and the picker built over the ones that are available.
 */
export class EndpointSet implements ResolverListener {
  private readonly endpoints = new Map<string, ClientEndpoint>();
  /** Endpoints that left the resolver's list and still have calls in flight. */
  private readonly draining = new Set<ClientEndpoint>();
  private readonly inPicker = new WeakSet<ClientEndpoint>();
  private readonly failing = new WeakSet<ClientEndpoint>();
  /** Builds the picker over eligible endpoints (connecting ones too) rather than available ones. */
  private readonly sticky: boolean;
  private readonly settledWaiters = new Set<{ resolve(): void; reject(error: Error): void }>();
  private readonly observers = new Set<EndpointSetObserver>();
  private picker: Picker<ClientEndpoint> | undefined;
  private readonly waiters = new Set<() => void>();
  private batching = false;
  private dirty = false;
  private rebuildTimer: NodeJS.Timeout | undefined = undefined;
  private lastBuildEnd = 0;
  private lastBuildMs = 0;
  private closed = false;
  private readonly host: EndpointHost;

  /** True once the resolver has answered (with a list or an error). */
  resolved = false;
  /** The last resolver error, cleared by the next good list. */
  lastError: Error | undefined;
  /** When the last usable list arrived (epoch ms), 0 before. */
  lastResolvedAt = 0;

  constructor(private readonly options: EndpointSetOptions) {
    // Infinity turns the connect timeout off; any other value becomes a timer and must fit one.
    const connectTimeoutMs =
      options.connectTimeoutMs === Infinity ? Infinity : durationOption('createClient', 'options.connectTimeoutMs', options.connectTimeoutMs, options.connectTimeoutMs, { min: 1 });
    this.sticky = options.balancer.waitsForConnecting === true;
    this.host = {
      makeClient: options.makeClient,
      connectTimeoutMs,
      now: options.statsClock,
      random: options.random,
      logger: options.logger,
      service: options.service,
      changed: (endpoint) => this.endpointChanged(endpoint),
      closed: (endpoint) => this.endpointClosed(endpoint),
    };
  }

  /**
   * Picks an available endpoint, or undefined when none is. With a balancer that waits for
   * connecting endpoints, undefined also when the one it chose is still connecting: the caller
   * waits for the next change (unavailability() says to).
   */
  pick(info: PickInfo): ClientEndpoint | undefined {
    const endpoint = this.picker?.pick(info);
    if (endpoint !== undefined) {
      if (endpoint.available) return endpoint;
      // Its owner is connecting and still belongs on the ring: wait for it, no rebuild.
      if (this.sticky && !this.dirty && endpoint.eligible) return undefined;
    } else if (!this.dirty) {
      return undefined;
    }
    // The picker is behind (rebuilds may be held back, see markDirty): it returned an endpoint
    // that has since become unavailable, or nothing while one may have become available.
    // Rebuild now, so no call goes to the wrong one or waits for nothing.
    this.rebuild();
    const again = this.picker?.pick(info);
    return again !== undefined && again.available ? again : undefined;
  }

  /**
   * Resolves once the resolver has answered and every endpoint of its list has connected or
   * failed to; rejects when the set closes first.
   */
  settled(): Promise<void> {
    if (this.isSettled()) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error(`client for "${this.options.service}" (${this.options.target}) is closed`));
    return new Promise((resolve, reject) => this.settledWaiters.add({ resolve, reject }));
  }

  private isSettled(): boolean {
    // While a list is being applied, the endpoints are not all in place yet.
    if (!this.resolved || this.batching) return false;
    for (const endpoint of this.endpoints.values()) {
      const state = endpoint.state;
      if (state !== 'ready' && state !== 'transient_failure' && !endpoint.failing) return false;
    }
    return true;
  }

  private checkSettled(): void {
    if (this.settledWaiters.size === 0 || !this.isSettled()) return;
    const waiters = [...this.settledWaiters];
    this.settledWaiters.clear();
    for (const waiter of waiters) waiter.resolve();
  }

  /** Endpoints from the resolver's list plus the ones still draining. */
  all(): ClientEndpoint[] {
    return [...this.endpoints.values(), ...this.draining];
  }

  list(): EndpointInfo[] {
    return this.all().map((endpoint) => endpoint.info());
  }

  observe(observer: EndpointSetObserver): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  // ResolverListener

  onUpdate(instances: Instance[]): void {
    if (this.closed) return;
    const valid = new Map<string, Instance & { weight: number }>();
    const problems: string[] = [];
    if (!Array.isArray(instances)) {
      this.onError(new Error(`resolver sent ${typeof instances} instead of a list of instances`));
      return;
    }
    for (const instance of instances) {
      const problem = checkInstance(instance);
      if (problem) {
        problems.push(problem);
        continue;
      }
      // The first of two entries with one address wins: one channel per address.
      if (!valid.has(instance.address)) valid.set(instance.address, { ...instance, weight: instance.weight ?? DEFAULT_WEIGHT });
    }
    if (problems.length > 0) {
      this.report(new Error(`resolver sent ${problems.length} unusable instance(s) for "${this.options.service}": ${problems.slice(0, 3).join('; ')}`));
    }
    if (valid.size === 0 && this.endpoints.size > 0) {
      // Stale is better than nothing: an empty answer is far more often a registry hiccup than
      // a service with no instances left.
      this.report(new Error(`resolver returned no usable instances for "${this.options.service}"; keeping the last ${this.endpoints.size}`));
      return;
    }
    this.resolved = true;
    this.lastError = problems.length > 0 ? this.lastError : undefined;
    this.lastResolvedAt = this.options.now();
    this.batch(() => {
      for (const [address, endpoint] of this.endpoints) {
        if (!valid.has(address)) {
          this.endpoints.delete(address);
          this.draining.add(endpoint);
          this.removedSinceLog.push(address);
          endpoint.drain();
        }
      }
      for (const [address, instance] of valid) this.apply(address, instance);
    });
    const list = [...valid.values()];
    this.logMembership(list.length);
    this.tell('onResolved', list);
    this.wake();
    this.checkSettled();
  }

  onError(error: Error): void {
    if (this.closed) return;
    this.resolved = true;
    this.report(asError(error));
    this.wake();
    this.checkSettled();
  }

  /**
   * Whether a call that found nothing to pick should wait for a change, and the message for the
   * caller if not: names the service, the target and why.
   */
  unavailability(): Unavailability {
    const { service, target } = this.options;
    const where = `"${service}" (${target})`;
    if (!this.resolved) return { wait: true, message: `no endpoints for ${where} yet: waiting for the first resolution` };
    const endpoints = [...this.endpoints.values()];
    if (endpoints.length === 0) {
      const why = this.lastError ? `resolver error: ${this.lastError.message}` : 'the resolver returned no instances';
      return { wait: false, message: `no endpoints for ${where}: ${why}` };
    }
    const counts: Record<string, number> = {};
    let connecting = false;
    for (const endpoint of endpoints) {
      const reason = endpoint.ejected
        ? 'ejected by circuit breaker'
        : !endpoint.serving
          ? 'not serving (health check)'
          : endpoint.state === 'ready'
            ? 'ready'
            : endpoint.state === 'transient_failure'
              ? 'failing to connect'
              : 'connecting';
      if (reason === 'connecting') connecting = true;
      counts[reason] = (counts[reason] ?? 0) + 1;
    }
    const detail = Object.entries(counts)
      .map(([reason, n]) => `${n} ${reason}`)
      .join(', ');
    const error = this.lastError ? `; last resolver error: ${this.lastError.message}` : '';
    return { wait: connecting, message: `no ready endpoint for ${where}: ${endpoints.length} known, ${detail}${error}` };
  }

  /**
   * Calls `wake` once, at the next change that might make a pick succeed (or fail for good).
   * Returns a function that cancels the wait, for a waiter whose deadline came first.
   */
  onNextChange(wake: () => void): () => void {
    this.waiters.add(wake);
    return () => this.waiters.delete(wake);
  }

  /** Closes every channel. The client cancels its calls in flight first. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.picker = undefined;
    if (this.rebuildTimer) clearTimeout(this.rebuildTimer);
    for (const endpoint of this.all()) endpoint.shutdown();
    this.endpoints.clear();
    this.draining.clear();
    this.wake();
    const waiters = [...this.settledWaiters];
    this.settledWaiters.clear();
    for (const waiter of waiters) waiter.reject(new Error(`client for "${this.options.service}" (${this.options.target}) closed before its endpoints settled`));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private apply(address: string, instance: Instance & { weight: number }): void {
    const tags = instance.tags ? { ...instance.tags } : {};
    const existing = this.endpoints.get(address);
    if (existing) {
      // A weight or tag change is applied in place: the connection stays.
      if (existing.weight !== instance.weight || !sameTags(existing.tags, tags)) {
        existing.weight = instance.weight;
        existing.tags = tags;
        existing.id = instance.id;
        this.markDirty();
      }
      return;
    }
    const revived = [...this.draining].find((endpoint) => endpoint.address === address);
    if (revived) {
      this.draining.delete(revived);
      this.endpoints.set(address, revived);
      revived.weight = instance.weight;
      revived.tags = tags;
      revived.id = instance.id;
      revived.undrain();
      this.addedSinceLog.push(address);
      this.markDirty();
      return;
    }
    const endpoint = new ClientEndpoint(address, instance.weight, tags, instance.id, this.host);
    this.endpoints.set(address, endpoint);
    this.addedSinceLog.push(address);
    this.tell('onEndpointAdded', endpoint);
    this.markDirty();
  }

  private endpointChanged(endpoint: ClientEndpoint): void {
    if (this.belongsInPicker(endpoint) !== this.inPicker.has(endpoint)) this.markDirty();
    if (endpoint.state !== 'transient_failure') {
      this.failing.delete(endpoint);
    } else if (!this.failing.has(endpoint)) {
      // The instance may have moved or gone: the records could be stale before their TTL.
      this.failing.add(endpoint);
      this.options.resolveNow?.();
    }
    this.tell('onEndpointChanged', endpoint);
    this.wake();
    this.checkSettled();
  }

  /** In the picker: available, or, for a balancer that waits for them, not known to be failing. */
  private belongsInPicker(endpoint: ClientEndpoint): boolean {
    return this.sticky ? endpoint.eligible && !this.draining.has(endpoint) : endpoint.available;
  }

  /** Membership changes at info level, an unchanged list (a re-resolution) at debug. */
  private logMembership(count: number): void {
    const { logger, service } = this.options;
    const added = this.addedSinceLog;
    const removed = this.removedSinceLog;
    this.addedSinceLog = [];
    this.removedSinceLog = [];
    if (added.length === 0 && removed.length === 0) {
      logger.debug({ service, instances: count }, 'resolver update; no change');
      return;
    }
    logger.info({ service, instances: count, added: added.slice(0, MAX_LOGGED_ADDRESSES), removed: removed.slice(0, MAX_LOGGED_ADDRESSES), addedCount: added.length, removedCount: removed.length }, 'endpoints changed');
  }

  private addedSinceLog: string[] = [];
  private removedSinceLog: string[] = [];

  private endpointClosed(endpoint: ClientEndpoint): void {
    this.draining.delete(endpoint);
    if (this.endpoints.get(endpoint.address) === endpoint) this.endpoints.delete(endpoint.address);
    this.tell('onEndpointRemoved', endpoint);
  }

  private batch(fn: () => void): void {
    this.batching = true;
    try {
      fn();
    } finally {
      this.batching = false;
    }
    if (this.dirty) this.rebuild();
  }

  /**
   * A rebuild is due. It runs at once unless the last one was very recent, in which case it is
   * held back so that rebuilds take at most a tenth of the time (a consistent-hash ring over
   * thousands of endpoints takes tens of milliseconds to build, and each of them connecting
   * changes the set). A held-back rebuild only delays new endpoints: pick() never returns one
   * that has become unavailable.
   */
  private markDirty(): void {
    this.dirty = true;
    if (this.batching || this.rebuildTimer) return;
    const hold = Math.min(this.lastBuildMs * REBUILD_COST_FACTOR, MAX_REBUILD_HOLD_MS);
    const wait = this.lastBuildEnd + hold - performance.now();
    if (wait <= 0) {
      this.rebuild();
      return;
    }
    this.rebuildTimer = setTimeout(() => {
      this.rebuildTimer = undefined;
      if (this.dirty) this.rebuild();
    }, wait);
    this.rebuildTimer.unref();
  }

  private rebuild(): void {
    this.dirty = false;
    if (this.rebuildTimer) {
      clearTimeout(this.rebuildTimer);
      this.rebuildTimer = undefined;
    }
    if (this.closed) return;
    const started = performance.now();
    this.buildPicker();
    this.lastBuildEnd = performance.now();
    this.lastBuildMs = this.lastBuildEnd - started;
    this.wake();
  }

  private buildPicker(): void {
    const available: ClientEndpoint[] = [];
    for (const endpoint of this.endpoints.values()) {
      if (this.belongsInPicker(endpoint)) {
        available.push(endpoint);
        this.inPicker.add(endpoint);
      } else {
        this.inPicker.delete(endpoint);
      }
    }
    for (const endpoint of this.draining) this.inPicker.delete(endpoint);
    if (available.length === 0) {
      this.picker = undefined;
      return;
    }
    try {
      this.picker = this.options.balancer.build(available);
    } catch (error) {
      // A custom balancer that throws keeps the last picker rather than taking the client down
      // from inside a connectivity callback.
      this.options.logger.error({ service: this.options.service, balancer: this.options.balancer.name, err: String(error) }, 'balancer.build threw; keeping the previous picker');
    }
  }

  /** Tells every observer; one that throws is logged and does not stop the others or the set. */
  private tell<K extends keyof EndpointSetObserver>(event: K, arg: Parameters<NonNullable<EndpointSetObserver[K]>>[0]): void {
    for (const observer of this.observers) {
      const handler = observer[event] as ((value: typeof arg) => void) | undefined;
      if (!handler) continue;
      try {
        handler.call(observer, arg);
      } catch (error) {
        this.options.logger.error({ service: this.options.service, event, err: String(error) }, 'endpoint observer threw');
      }
    }
  }

  private report(error: Error): void {
    this.lastError = error;
    this.options.logger.warn({ service: this.options.service, err: error.message }, 'resolver error; keeping the last good endpoints');
    this.tell('onResolveError', error);
  }

  private wake(): void {
    if (this.waiters.size === 0) return;
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }
}

function checkInstance(instance: Instance): string | undefined {
  if (instance === null || typeof instance !== 'object') return `${describeValue(instance)} is not an instance object`;
  const address: unknown = instance.address;
  if (typeof address !== 'string') return `instance address must be a "host:port" string, got ${describeValue(address)}`;
  const parsed = parseAddress(address);
  if (parsed instanceof Error) {
    // The parser's own words quote the address whole: only a short, printable one is quoted so.
    return address.length <= MAX_EXCERPT_CHARS && !/[\x00-\x1f\x7f]/.test(address) ? parsed.message : `instance address ${excerpt(address)} is not a usable "host:port"`;
  }
  const weight = instance.weight;
  if (weight !== undefined && !(typeof weight === 'number' && Number.isFinite(weight) && weight > 0)) {
    return `instance ${excerpt(instance.address)} has weight ${describeValue(weight)}; weights must be finite numbers > 0`;
  }
  return undefined;
}

function sameTags(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) if (a[key] !== b[key]) return false;
  return true;
}
