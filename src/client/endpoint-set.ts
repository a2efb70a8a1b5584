import type { Client } from '@grpc/grpc-js';
import type { Balancer, PickInfo, Picker } from '../balancer/types';
import type { Instance, ResolverListener } from '../resolver/types';
import { asError } from '../discovery/errors';
import type { Clock, MonotonicClock } from '../core/clock';
import { durationOption } from '../core/options';
import { ClientEndpoint, type EndpointHost } from './endpoint';
import { type EndpointInfo } from '../core/endpoint';
import { sameTags, usableInstances, type WeightedInstance } from './instance-check';
import type { Logger } from '../core/logger';
import { MembershipLog } from './membership-log';
import { PickerRebuilds } from './picker-rebuilds';
import { SetObservers, type EndpointSetObserver } from './set-observers';
import { ChangeWaiters, SettledWaiters } from './set-waiters';
import { unavailability, type Unavailability } from './unavailability';

export type { EndpointSetObserver } from './set-observers';
export type { Unavailability } from './unavailability';

export interface EndpointSetOptions {
  readonly service: string;
  readonly target: string;
  readonly balancer: Balancer;
  readonly makeClient: (address: string) => Client;
  readonly connectTimeoutMs: number;
  /** Wall clock, epoch ms. */
  readonly now: Clock;
  /** Monotonic clock in ms for the endpoints' moving averages: sub-millisecond, so replies in one tick still count. */
  readonly statsClock: MonotonicClock;
  readonly random: () => number;
  readonly logger: Logger;
  /** Asks the resolver for a fresh list: called when an endpoint starts failing to connect. */
  readonly resolveNow?: () => void;
}

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
  private readonly observers: SetObservers;
  private picker: Picker<ClientEndpoint> | undefined;
  private readonly rebuilds: PickerRebuilds;
  private readonly changeWaiters = new ChangeWaiters();
  private readonly settledWaiters = new SettledWaiters();
  private readonly membership: MembershipLog;
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
    this.rebuilds = new PickerRebuilds(
      options.statsClock,
      () => this.buildPicker(),
      () => this.changeWaiters.wake(),
    );
    this.membership = new MembershipLog(options.logger, options.service);
    this.observers = new SetObservers(options.logger, options.service);
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
      if (this.sticky && !this.rebuilds.dirty && endpoint.eligible) return undefined;
    } else if (!this.rebuilds.dirty) {
      return undefined;
    }
    // The picker is behind (rebuilds may be held back, see PickerRebuilds): it returned an
    // endpoint that has since become unavailable, or nothing while one may have become
    // available. Rebuild now, so no call goes to the wrong one or waits for nothing.
    this.rebuilds.rebuild();
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
    return this.settledWaiters.wait();
  }

  private isSettled(): boolean {
    // While a list is being applied, the endpoints are not all in place yet.
    if (!this.resolved || this.rebuilds.inBatch) return false;
    for (const endpoint of this.endpoints.values()) {
      const state = endpoint.state;
      if (state !== 'ready' && state !== 'transient_failure' && !endpoint.failing) return false;
    }
    return true;
  }

  private checkSettled(): void {
    if (this.settledWaiters.waiting && this.isSettled()) this.settledWaiters.resolveAll();
  }

  /** Endpoints from the resolver's list plus the ones still draining. */
  all(): ClientEndpoint[] {
    return [...this.endpoints.values(), ...this.draining];
  }

  list(): EndpointInfo[] {
    return this.all().map((endpoint) => endpoint.info());
  }

  observe(observer: EndpointSetObserver): () => void {
    return this.observers.add(observer);
  }

  // ResolverListener

  onUpdate(instances: Instance[]): void {
    if (this.closed) return;
    if (!Array.isArray(instances)) {
      this.onError(new Error(`resolver sent ${typeof instances} instead of a list of instances`));
      return;
    }
    const { valid, problems } = usableInstances(instances);
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
    this.rebuilds.batch(() => {
      for (const [address, endpoint] of this.endpoints) {
        if (!valid.has(address)) {
          this.endpoints.delete(address);
          this.draining.add(endpoint);
          this.membership.remove(address);
          endpoint.drain();
        }
      }
      for (const [address, instance] of valid) this.apply(address, instance);
    });
    const list = [...valid.values()];
    this.membership.flush(list.length);
    this.observers.tell('onResolved', list);
    this.changeWaiters.wake();
    this.checkSettled();
  }

  onError(error: Error): void {
    if (this.closed) return;
    this.resolved = true;
    this.report(asError(error));
    this.changeWaiters.wake();
    this.checkSettled();
  }

  /**
   * Whether a call that found nothing to pick should wait for a change, and the message for the
   * caller if not: names the service, the target and why.
   */
  unavailability(): Unavailability {
    const { service, target } = this.options;
    return unavailability({ service, target, resolved: this.resolved, endpoints: [...this.endpoints.values()], lastError: this.lastError });
  }

  /**
   * Calls `wake` once, at the next change that might make a pick succeed (or fail for good).
   * Returns a function that cancels the wait, for a waiter whose deadline came first.
   */
  onNextChange(wake: () => void): () => void {
    return this.changeWaiters.add(wake);
  }

  /** Closes every channel. The client cancels its calls in flight first. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.picker = undefined;
    this.rebuilds.stop();
    for (const endpoint of this.all()) endpoint.shutdown();
    this.endpoints.clear();
    this.draining.clear();
    this.changeWaiters.wake();
    this.settledWaiters.rejectAll(new Error(`client for "${this.options.service}" (${this.options.target}) closed before its endpoints settled`));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private apply(address: string, instance: WeightedInstance): void {
    const tags = instance.tags ? { ...instance.tags } : {};
    const existing = this.endpoints.get(address);
    if (existing) {
      // A weight or tag change is applied in place: the connection stays.
      if (existing.weight !== instance.weight || !sameTags(existing.tags, tags)) {
        existing.weight = instance.weight;
        existing.tags = tags;
        existing.id = instance.id;
        this.rebuilds.markDirty();
      }
      return;
    }
    const revived = this.takeDraining(address);
    if (revived) {
      this.endpoints.set(address, revived);
      revived.weight = instance.weight;
      revived.tags = tags;
      revived.id = instance.id;
      revived.undrain();
      this.membership.add(address);
      this.rebuilds.markDirty();
      return;
    }
    const endpoint = new ClientEndpoint(address, instance.weight, tags, instance.id, this.host);
    this.endpoints.set(address, endpoint);
    this.membership.add(address);
    this.observers.tell('onEndpointAdded', endpoint);
    this.rebuilds.markDirty();
  }

  /** The draining endpoint of `address`, taken out of the draining ones; undefined when none. */
  private takeDraining(address: string): ClientEndpoint | undefined {
    for (const endpoint of this.draining) {
      if (endpoint.address !== address) continue;
      this.draining.delete(endpoint);
      return endpoint;
    }
    return undefined;
  }

  private endpointChanged(endpoint: ClientEndpoint): void {
    if (this.belongsInPicker(endpoint) !== this.inPicker.has(endpoint)) this.rebuilds.markDirty();
    if (endpoint.state !== 'transient_failure') {
      this.failing.delete(endpoint);
    } else if (!this.failing.has(endpoint)) {
      // The instance may have moved or gone: the records could be stale before their TTL.
      this.failing.add(endpoint);
      this.options.resolveNow?.();
    }
    this.observers.tell('onEndpointChanged', endpoint);
    this.changeWaiters.wake();
    this.checkSettled();
  }

  /** In the picker: available, or, for a balancer that waits for them, not known to be failing. */
  private belongsInPicker(endpoint: ClientEndpoint): boolean {
    return this.sticky ? endpoint.eligible && !this.draining.has(endpoint) : endpoint.available;
  }

  private endpointClosed(endpoint: ClientEndpoint): void {
    this.draining.delete(endpoint);
    if (this.endpoints.get(endpoint.address) === endpoint) this.endpoints.delete(endpoint.address);
    this.observers.tell('onEndpointRemoved', endpoint);
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

  private report(error: Error): void {
    this.lastError = error;
    this.options.logger.warn({ service: this.options.service, err: error.message }, 'resolver error; keeping the last good endpoints');
    this.observers.tell('onResolveError', error);
  }
}
