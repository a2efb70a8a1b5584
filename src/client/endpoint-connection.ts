import { connectivityState as Connectivity, type Client } from '@grpc/grpc-js';
import { backoffDelay, type BackoffOptions } from '../core/backoff';
import type { MonotonicClock } from '../core/clock';
import type { EndpointState } from '../core/endpoint';
import { ConnectSockets } from './connect-sockets';
import type { Logger } from '../core/logger';


/** Envoy's default connect timeout; grpc-js has none, and a peer that accepts TCP but never speaks HTTP/2 would stay CONNECTING forever. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

/** Reconnect backoff after a connect timeout, as in gRPC's connection-backoff spec (1 s, ×1.6, ±20 %, 120 s cap). */
const RECONNECT_BACKOFF: BackoffOptions = Object.freeze({ initialMs: 1_000, maxMs: 120_000, multiplier: 1.6, jitter: 0.2 });

/** What an endpoint's connection needs from the client that owns it. */
export interface ConnectionHost {
  /** Makes the grpc-js client (one channel) for an address. */
  makeClient(address: string): Client;
  /** Infinity turns the connect timeout off. */
  readonly connectTimeoutMs: number;
  /** Monotonic milliseconds (only differences matter). */
  readonly now: MonotonicClock;
  readonly random: () => number;
  /** Where connect timeouts are told; silent when absent. */
  readonly logger?: Logger;
  /** The service the endpoint belongs to, for log lines. */
  readonly service?: string;
}

/**
 * The grpc-js channel of one endpoint and where it stands: follows its connectivity, gives up on
 * an attempt that outlasts the connect timeout (closing the channel and the sockets it left) and
 * makes a fresh channel after a backoff. Tells `changed` of every move.
 */
export class EndpointConnection {
  private client_: Client;
  private grpcState: EndpointState = 'idle';
  private timedOut = false;
  /**
   * Set when a connection attempt fails or times out, cleared only when the endpoint is READY
   * again: grpc-js moves a failing channel back to CONNECTING for every retry, and an endpoint
   * that flapped between failing and connecting would pull its hash keys back each time.
   */
  private failedFlag = false;
  /** Bumped whenever the channel is replaced, so watchers of an old channel fall silent. */
  private generation = 0;
  private connectTimer: NodeJS.Timeout | undefined = undefined;
  private reconnectTimer: NodeJS.Timeout | undefined = undefined;
  private reconnectAttempts = 0;
  /** Connect attempts that gave up after the connect timeout. */
  connectTimeouts = 0;
  private readonly sockets: ConnectSockets;

  constructor(
    private readonly address: string,
    private readonly host: ConnectionHost,
    private readonly changed: () => void,
  ) {
    this.sockets = new ConnectSockets(address, host.now);
    this.client_ = this.open();
  }

  /** The grpc-js client calls are sent on. */
  get client(): Client {
    return this.client_;
  }

  get state(): EndpointState {
    if (this.grpcState === 'shutdown') return 'shutdown';
    return this.timedOut ? 'transient_failure' : this.grpcState;
  }

  get ready(): boolean {
    return this.grpcState === 'ready';
  }

  get isShutdown(): boolean {
    return this.grpcState === 'shutdown';
  }

  /** True from a failed or timed-out connection attempt until the channel is ready again. */
  get failed(): boolean {
    return this.failedFlag;
  }

  /**
   * Starts following the channel (an idle one is told to connect). Separate from construction,
   * because the first state change already tells the owner, which must be complete by then.
   */
  start(): void {
    this.track(this.client_, this.generation);
  }

  /**
   * Closes the channel for good. Calls still in flight on it are left to grpc-js to finish or
   * fail. False when it was closed already.
   */
  close(): boolean {
    if (this.grpcState === 'shutdown') return false;
    this.generation++;
    this.clearConnectTimer();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const connecting = this.grpcState !== 'ready';
    this.grpcState = 'shutdown';
    this.client_.close();
    this.sockets.unwatch();
    // A channel closed while connecting leaves its socket open (see connect-sockets.ts).
    if (connecting) this.sockets.reap();
    return true;
  }

  /** A fresh channel, under a new generation. */
  private open(): Client {
    this.generation++;
    const client = this.host.makeClient(this.address);
    this.client_ = client;
    this.timedOut = false;
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
        this.failedFlag = false;
        this.clearConnectTimer();
        this.sockets.unwatch();
        this.sockets.forget();
        break;
      case Connectivity.TRANSIENT_FAILURE:
        // grpc-js backs off and retries by itself; it does not hang in this state.
        this.grpcState = 'transient_failure';
        this.failedFlag = true;
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
    this.changed();
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
    this.failedFlag = true;
    this.grpcState = 'transient_failure';
    const delay = backoffDelay(++this.reconnectAttempts, RECONNECT_BACKOFF, this.host.random);
    this.host.logger?.warn(
      { service: this.host.service, address: this.address, connectTimeoutMs: this.host.connectTimeoutMs, socketsClosed: reaped, retryInMs: Math.round(delay) },
      'endpoint not ready within the connect timeout; reconnecting after a backoff',
    );
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.track(this.open(), this.generation);
    }, delay);
    this.reconnectTimer.unref();
    this.changed();
  }

  private clearConnectTimer(): void {
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
  }
}
