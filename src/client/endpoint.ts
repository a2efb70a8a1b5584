import { status as Status, type Client } from '@grpc/grpc-js';
import type { Endpoint } from '../balancer/types';
import { isEndpointFailure } from '../core/status';
import { EndpointConnection, type ConnectionHost } from './endpoint-connection';
import type { EndpointInfo, EndpointState } from '../core/endpoint';
import { EndpointStats } from './endpoint-stats';

export { DEFAULT_CONNECT_TIMEOUT_MS } from './endpoint-connection';
export { DEFAULT_DECAY_MS, LATENCY_DECAY_MS, LATENCY_RISE_MS } from './endpoint-stats';

export interface EndpointHost extends ConnectionHost {
  /** Told when the endpoint's availability or weight changes, so the picker is rebuilt. */
  changed(endpoint: ClientEndpoint): void;
  /** Told once the endpoint has shut down (drained or closed). */
  closed(endpoint: ClientEndpoint): void;
}

/**
 * One instance address with its own grpc-js channel and live stats. Balancers read `weight`,
 * `inflight` and `latencyEwmaMs` live from it.
 */
export class ClientEndpoint implements Endpoint {
  readonly address: string;
  id: string | undefined;
  weight: number;
  tags: Readonly<Record<string, string>>;

  inflight = 0;
  calls = 0;
  failures = 0;
  consecutiveFailures = 0;

  private drainingFlag = false;
  private ejectedFlag = false;
  private servingFlag = true;
  private readonly stats: EndpointStats;
  private readonly connection: EndpointConnection;

  constructor(
    address: string,
    weight: number,
    tags: Readonly<Record<string, string>>,
    id: string | undefined,
    private readonly host: EndpointHost,
  ) {
    this.address = address;
    this.weight = weight;
    this.tags = tags;
    this.id = id;
    this.stats = new EndpointStats(host.now);
    this.connection = new EndpointConnection(address, host, () => host.changed(this));
    this.connection.start();
  }

  /** The grpc-js client calls are sent on. */
  get client(): Client {
    return this.connection.client;
  }

  get state(): EndpointState {
    return this.connection.state;
  }

  /** Moving average of call latency in ms (see EndpointStats); undefined before the first sample. */
  get latencyEwmaMs(): number | undefined {
    return this.stats.latencyMs();
  }

  /** Connect attempts that gave up after the connect timeout. */
  get connectTimeouts(): number {
    return this.connection.connectTimeouts;
  }

  get draining(): boolean {
    return this.drainingFlag;
  }

  get ejected(): boolean {
    return this.ejectedFlag;
  }

  get serving(): boolean {
    return this.servingFlag;
  }

  /** True from a failed or timed-out connection attempt until the endpoint is ready again. */
  get failing(): boolean {
    return this.connection.failed && !this.connection.ready;
  }

  /**
   * Not known to be failing and not held back: ready, or connecting for the first time (or again
   * after going idle). Consistent hashing keeps such an endpoint on its ring and waits for it.
   */
  get eligible(): boolean {
    return !this.connection.failed && !this.connection.isShutdown && !this.drainingFlag && !this.ejectedFlag && this.servingFlag;
  }

  /** Connected and not held back by draining, a breaker or a health check. */
  get available(): boolean {
    return this.connection.ready && !this.drainingFlag && !this.ejectedFlag && this.servingFlag;
  }

  /** Keeps the endpoint out of (or lets it back into) the picker: for circuit breakers. */
  setEjected(ejected: boolean, reason?: string): void {
    if (this.ejectedFlag === ejected) return;
    this.ejectedFlag = ejected;
    if (reason !== undefined) {
      const fields = { service: this.host.service, address: this.address, reason };
      if (ejected) this.host.logger?.warn(fields, 'endpoint ejected by circuit breaker');
      else this.host.logger?.info(fields, 'endpoint back in the picker');
    }
    this.host.changed(this);
  }

  /** Records what active health checking says. */
  setServing(serving: boolean): void {
    if (this.servingFlag === serving) return;
    this.servingFlag = serving;
    this.host.changed(this);
  }

  /** A call starts on this endpoint. */
  begin(): void {
    this.inflight++;
    this.calls++;
  }

  /** A call that began here has finished with `code`, after `latencyMs` when it is a latency sample. */
  end(code: Status, latencyMs: number | undefined): void {
    this.inflight--;
    const failed = isEndpointFailure(code);
    if (failed) {
      this.failures++;
      this.consecutiveFailures++;
    } else {
      this.consecutiveFailures = 0;
    }
    // Cancelled calls say nothing about the endpoint's speed.
    this.stats.sample(failed, code === Status.CANCELLED ? undefined : latencyMs);
    if (this.drainingFlag && this.inflight === 0) this.shutdown();
  }

  /** Leaves the picker; closes once the calls in flight have finished. */
  drain(): void {
    if (this.drainingFlag || this.connection.isShutdown) return;
    this.drainingFlag = true;
    this.host.changed(this);
    if (this.inflight === 0) this.shutdown();
  }

  /** The address came back while draining: take calls again on the same channel. */
  undrain(): void {
    if (!this.drainingFlag || this.connection.isShutdown) return;
    this.drainingFlag = false;
    this.host.changed(this);
  }

  /** Closes the channel now. Calls still in flight on it are left to grpc-js to finish or fail. */
  shutdown(): void {
    if (!this.connection.close()) return;
    this.host.changed(this);
    this.host.closed(this);
  }

  info(): EndpointInfo {
    return {
      address: this.address,
      id: this.id,
      weight: this.weight,
      tags: this.tags,
      state: this.state,
      available: this.available,
      draining: this.drainingFlag,
      ejected: this.ejectedFlag,
      serving: this.servingFlag,
      inflight: this.inflight,
      calls: this.calls,
      failures: this.failures,
      consecutiveFailures: this.consecutiveFailures,
      failureRate: this.stats.failureRate(),
      latencyEwmaMs: this.stats.latencyMs(),
      connectTimeouts: this.connection.connectTimeouts,
    };
  }
}
