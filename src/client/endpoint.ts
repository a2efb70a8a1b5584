import { connectivityState as Connectivity, status as Status, type Client } from '@grpc/grpc-js';
import type { Endpoint } from '../balancer/types';
import { isEndpointFailure } from '../core/status';
import { ConnectSockets } from './connect-sockets';
import type { Logger } from './logger';

/** Where an endpoint stands, as `client.endpoints()` shows it. */
export type EndpointState = 'idle' | 'connecting' | 'ready' | 'transient_failure' | 'shutdown';

/** Decay time of the failure rate: the last ten seconds or so, as Kitex's breaker window. */
export const DEFAULT_DECAY_MS = 10_000;

/**
 * Time constant of the latency average when replies get faster, and of its decay while an
 * endpoint gets no calls. Finagle and Linkerd use 10 s with a pure peak (every slower reply takes
 * over at once); measured here, that lets one pause of the client's own event loop, which every
 * endpoint's calls see at once, mark a fast endpoint as slow for half a minute and hide a
 * genuinely slow one.
 */
export const LATENCY_DECAY_MS = 2_000;
/** Time constant when replies get slower: ten times quicker, so a slowing endpoint is avoided within a fraction of a second. */
export const LATENCY_RISE_MS = 200;

/** Envoy's default connect timeout; grpc-js has none, and a peer that accepts TCP but never speaks HTTP/2 would stay CONNECTING forever. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

/** Reconnect backoff after a connect timeout, as in gRPC's connection-backoff spec (1 s, ×1.6, ±20 %, 120 s cap). */
const RECONNECT_INITIAL_MS = 1_000;
const RECONNECT_MULTIPLIER = 1.6;
const RECONNECT_JITTER = 0.2;
const RECONNECT_MAX_MS = 120_000;

/** A snapshot of one endpoint for operators and tests. */
export interface EndpointInfo {
  readonly address: string;
  readonly id: string | undefined;
  readonly weight: number;
  readonly tags: Readonly<Record<string, string>>;
  readonly state: EndpointState;
  /** True when the balancer may pick it now. */
  readonly available: boolean;
  readonly draining: boolean;
  /** Set while a circuit breaker keeps the endpoint out of the picker. */
  readonly ejected: boolean;
  /** False while active health checking reports the endpoint NOT_SERVING. */
  readonly serving: boolean;
  readonly inflight: number;
  readonly calls: number;
  readonly failures: number;
  readonly consecutiveFailures: number;
  /** Time-decayed share of recent calls that failed, 0..1. */
  readonly failureRate: number;
  readonly latencyEwmaMs: number | undefined;
  /** Connect attempts that gave up after the connect timeout. */
  readonly connectTimeouts: number;
}

export interface EndpointHost {
  /** Makes the grpc-js client (one channel) for an address. */
  makeClient(address: string): Client;
  /** Told when the endpoint's availability or weight changes, so the picker is rebuilt. */
  changed(endpoint: ClientEndpoint): void;
  /** Told once the endpoint has shut down (drained or closed). */
  closed(endpoint: ClientEndpoint): void;
  readonly connectTimeoutMs: number;
  /** Monotonic milliseconds for the moving averages (only differences matter). */
  readonly now: () => number;
  readonly random: () => number;
  /** Where connect timeouts and ejections are told; silent when absent. */
  readonly logger?: Logger;
  /** The service the endpoint belongs to, for log lines. */
  readonly service?: string;
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
  connectTimeouts = 0;

  private failureEwma = 0;
  private lastSampleAt = 0;
  /** Latency average as of `latencyAt`; negative before the first sample. */
  private latencyAverage = -1;
  private latencySamples = 0;
  private latencyAt = 0;
  private grpcState: EndpointState = 'idle';
  private timedOut = false;
  private drainingFlag = false;
  private ejectedFlag = false;
  private servingFlag = true;
  private client_: Client;
  /** Bumped whenever the channel is replaced, so watchers of an old channel fall silent. */
  private generation = 0;
  private connectTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectAttempts = 0;
  /**
   * Set when a connection attempt fails or times out, cleared only when the endpoint is READY
   * again: grpc-js moves a failing channel back to CONNECTING for every retry, and an endpoint
   * that flapped between failing and connecting would pull its hash keys back each time.
   */
  private failed = false;
  private readonly sockets: ConnectSockets;

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
    this.sockets = new ConnectSockets(address);
    this.client_ = this.connect();
  }

  /** The grpc-js client calls are sent on. */
  get client(): Client {
    return this.client_;
  }

  get state(): EndpointState {
    if (this.grpcState === 'shutdown') return 'shutdown';
    return this.timedOut ? 'transient_failure' : this.grpcState;
  }

  /**
   * Moving average of call latency in ms, peak-sensitive in the manner of Finagle's peak EWMA: it
   * rises ten times faster than it falls, so a slowing endpoint is avoided within a fraction of a
   * second, and it decays toward zero while the endpoint gets no calls, so one left alone for
   * being slow is tried again after a few seconds. Undefined before the first sample.
   */
  get latencyEwmaMs(): number | undefined {
    const average = this.latencyAverage;
    if (average < 0) return undefined;
    const idle = this.host.now() - this.latencyAt;
    return idle > 0 ? average * Math.exp(-idle / LATENCY_DECAY_MS) : average;
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
    return this.failed && this.grpcState !== 'ready';
  }

  /**
   * Not known to be failing and not held back: ready, or connecting for the first time (or again
   * after going idle). Consistent hashing keeps such an endpoint on its ring and waits for it.
   */
  get eligible(): boolean {
    return !this.failed && this.grpcState !== 'shutdown' && !this.drainingFlag && !this.ejectedFlag && this.servingFlag;
  }

  /** Connected and not held back by draining, a breaker or a health check. */
  get available(): boolean {
    return this.grpcState === 'ready' && !this.drainingFlag && !this.ejectedFlag && this.servingFlag;
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
    this.notify();
  }

  /** Records what active health checking says. */
  setServing(serving: boolean): void {
    if (this.servingFlag === serving) return;
    this.servingFlag = serving;
    this.notify();
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
    const now = this.host.now();
    const elapsed = now - this.lastSampleAt;
    this.lastSampleAt = now;
    // Weight of the old average: decays with time since the last sample, not per call, so the
    // average means the same at 10 and 10,000 calls per second.
    const keep = Math.exp(-Math.max(elapsed, 0) / DEFAULT_DECAY_MS);
    this.failureEwma = this.failureEwma * keep + (failed ? 1 - keep : 0);
    if (failed) {
      this.failures++;
      this.consecutiveFailures++;
    } else {
      this.consecutiveFailures = 0;
    }
    // Cancelled calls say nothing about the endpoint's speed.
    if (latencyMs !== undefined && code !== Status.CANCELLED) {
      const average = this.latencyAverage;
      if (average < 0) {
        this.latencyAverage = latencyMs;
        this.latencySamples = 1;
      } else {
        // Weights by time since the last sample, not per call, so the average means the same at
        // 10 and 10,000 calls per second; after a long gap the new sample simply takes over. Early
        // on, each sample counts at least as much as in a plain mean of all so far, so the first
        // replies of a fresh process (slow while the JIT warms up) do not linger for seconds.
        const gap = Math.max(now - this.latencyAt, 0);
        const tau = latencyMs > average ? LATENCY_RISE_MS : LATENCY_DECAY_MS;
        const weight = Math.max(1 - Math.exp(-gap / tau), 1 / ++this.latencySamples);
        this.latencyAverage = average + (latencyMs - average) * weight;
      }
      this.latencyAt = now;
    }
    if (this.drainingFlag && this.inflight === 0) this.shutdown();
  }

  /** Leaves the picker; closes once the calls in flight have finished. */
  drain(): void {
    if (this.drainingFlag || this.grpcState === 'shutdown') return;
    this.drainingFlag = true;
    this.notify();
    if (this.inflight === 0) this.shutdown();
  }

  /** The address came back while draining: take calls again on the same channel. */
  undrain(): void {
    if (!this.drainingFlag || this.grpcState === 'shutdown') return;
    this.drainingFlag = false;
    this.notify();
  }

  /** Closes the channel now. Calls still in flight on it are left to grpc-js to finish or fail. */
  shutdown(): void {
    if (this.grpcState === 'shutdown') return;
    this.generation++;
    this.clearTimers();
    const connecting = this.grpcState !== 'ready';
    this.grpcState = 'shutdown';
    this.client_.close();
    this.sockets.unwatch();
    // A channel closed while connecting leaves its socket open (see connect-sockets.ts).
    if (connecting) this.sockets.reap();
    this.notify();
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
      failureRate: this.failureEwma * Math.exp(-Math.max(this.host.now() - this.lastSampleAt, 0) / DEFAULT_DECAY_MS),
      latencyEwmaMs: this.latencyEwmaMs,
      connectTimeouts: this.connectTimeouts,
    };
  }

  private connect(): Client {
    const generation = ++this.generation;
    const client = this.host.makeClient(this.address);
    this.client_ = client;
    this.timedOut = false;
    this.track(client, generation);
    return client;
  }

  private track(client: Client, generation: number): void {
    if (generation !== this.generation) return;
    const channel = client.getChannel();
    // true: an idle channel (new, or idle after grpc-js's idle timeout) starts connecting, so the
    // endpoint is warm when a call is picked for it.
    const state = channel.getConnectivityState(true);
    this.onGrpcState(state);
    if (state === Connectivity.SHUTDOWN) return;
    channel.watchConnectivityState(state, Infinity, () => this.track(client, generation));
  }

  private onGrpcState(state: Connectivity): void {
    switch (state) {
      case Connectivity.READY:
        this.grpcState = 'ready';
        this.reconnectAttempts = 0;
        this.timedOut = false;
        this.failed = false;
        this.clearConnectTimer();
        this.sockets.unwatch();
        this.sockets.forget();
        break;
      case Connectivity.TRANSIENT_FAILURE:
        // grpc-js backs off and retries by itself; it does not hang in this state.
        this.grpcState = 'transient_failure';
        this.failed = true;
        this.clearConnectTimer();
        this.sockets.unwatch();
        break;
      case Connectivity.IDLE:
      case Connectivity.CONNECTING:
        this.grpcState = state === Connectivity.IDLE ? 'idle' : 'connecting';
        this.sockets.watch();
        this.startConnectTimer();
        break;
      case Connectivity.SHUTDOWN:
        this.grpcState = 'shutdown';
        break;
    }
    this.notify();
  }

  private startConnectTimer(): void {
    if (this.connectTimer || this.host.connectTimeoutMs === Infinity) return;
    this.connectTimer = setTimeout(() => this.onConnectTimeout(), this.host.connectTimeoutMs);
    this.connectTimer.unref();
  }

  private onConnectTimeout(): void {
    this.connectTimer = undefined;
    if (this.grpcState !== 'connecting' && this.grpcState !== 'idle') return;
    // The only way to abandon a grpc-js connection attempt is to close its channel. A fresh one
    // is made after a backoff; meanwhile the endpoint counts as failed, so it is not picked and
    // calls waiting for it learn that nothing is coming.
    this.connectTimeouts++;
    this.generation++;
    this.client_.close();
    this.sockets.unwatch();
    const reaped = this.sockets.reap();
    this.timedOut = true;
    this.failed = true;
    this.grpcState = 'transient_failure';
    const base = Math.min(RECONNECT_INITIAL_MS * RECONNECT_MULTIPLIER ** this.reconnectAttempts, RECONNECT_MAX_MS);
    this.reconnectAttempts++;
    const delay = base * (1 + RECONNECT_JITTER * (2 * this.host.random() - 1));
    this.host.logger?.warn(
      { service: this.host.service, address: this.address, connectTimeoutMs: this.host.connectTimeoutMs, socketsClosed: reaped, retryInMs: Math.round(delay) },
      'endpoint not ready within the connect timeout; reconnecting after a backoff',
    );
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect();
    }, delay);
    this.reconnectTimer.unref();
    this.notify();
  }

  private clearConnectTimer(): void {
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
  }

  private clearTimers(): void {
    this.clearConnectTimer();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
  }

  private notify(): void {
    this.host.changed(this);
  }

}
