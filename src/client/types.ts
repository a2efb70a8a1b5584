// The public types of createClient: its options, per-call options, and the client it returns,
// typed from the stub so that a typed stub gives a typed client.
import type { ChannelCredentials, ChannelOptions } from '@grpc/grpc-js';
import type { Balancer } from '../balancer/types';
import type { Middleware } from '../core/middleware';
import type { Resolver } from '../resolver/types';
import type { EndpointInfo } from '../core/endpoint';
import type { EndpointSetObserver } from './endpoint-set';
import type { HealthCheckOptions } from './health-check';
import type { Logger } from '../core/logger';
import type { AsyncCallOptions, AsyncMethod, LbMethod, MethodKeys } from './method-types';
export type { AsyncCallOptions, AsyncMethod, LbCallOptions } from './method-types';
import type { ServiceConfig } from './service-config';

export interface ClientOptions {
  /** Where the instances come from: 'static:///10.0.0.1:50051,10.0.0.2:50051', 'memory:///svc', 'dns:///host:port', 'consul://127.0.0.1:8500/svc'. */
  target?: string;
  /** A resolver to use instead of the target's scheme; `service` (or the target's path) names what it resolves. */
  resolver?: Resolver;
  /** The name the resolver resolves; defaults to the target's path. */
  service?: string;
  /** Default weightedRoundRobin(). */
  balancer?: Balancer;
  /** Outermost first: the first middleware sees the call first and its outcome last. */
  middleware?: readonly Middleware[];
  /** Default insecure. With TLS and IP-address endpoints, set tlsServerName too. */
  credentials?: ChannelCredentials;
  /** The name TLS certificates are checked against and the :authority sent, e.g. the service's DNS name (endpoints are usually IP addresses). */
  tlsServerName?: string;
  /**
   * grpc-js channel options, applied to every endpoint's channel. A `grpc.service_config` here is
   * read as `serviceConfig`, not given to the channels; `grpc.enable_retries` defaults to 0 when
   * the middleware retries or hedges.
   */
  channelOptions?: ChannelOptions;
  /**
   * A gRPC service config (object or JSON text): loadBalancingConfig, methodConfig (timeout,
   * retryPolicy, hedgingPolicy, waitForReady), retryThrottling, healthCheckConfig, mapped onto
   * this library's balancers, middleware and health checking.
   */
  serviceConfig?: ServiceConfig | string;
  /** How long an endpoint may take to become ready before it counts as failed and is reconnected. Default 5 s. */
  connectTimeoutMs?: number;
  /** How long a call without a deadline waits for an endpoint. Default 10 s. */
  pickTimeoutMs?: number;
  /** Active grpc.health.v1 checking of every endpoint (Watch, else Check polling); NOT_SERVING endpoints leave the picker. Off by default. */
  healthCheck?: boolean | HealthCheckOptions;
  /** pino-compatible logger; silent by default. */
  logger?: Logger;
  /** Wall clock in epoch ms (deadlines, stats decay); injectable for tests. */
  now?: () => number;
  /** Uniform [0, 1) source for jitter; injectable for tests. */
  random?: () => number;
}

/** True for stubs whose methods are not typed: proto-loader's without generated types, plain service definitions. */
type Untyped<T> = unknown extends T ? true : string extends keyof T ? true : false;

export type AsyncClient<T> =
  Untyped<T> extends true
    ? Record<string, (request?: any, options?: AsyncCallOptions) => any>
    : { [K in MethodKeys<T>]: AsyncMethod<T[K]> };

/**
 * The stub's RPC methods (grpc-js's single-channel methods left out), typed from the stub and
 * taking this library's call options, plus ours. An untyped stub gives an untyped client.
 */
export type LoadBalancedClient<T> =
  Untyped<T> extends true
    ? LoadBalancedClientBase<T> & Record<string, any>
    : { [K in MethodKeys<T>]: LbMethod<T[K]> } & LoadBalancedClientBase<T>;

export interface LoadBalancedClientBase<T> {
  /** async/await forms of every method. */
  readonly async: AsyncClient<T>;
  /** The endpoints with their state and live stats. */
  endpoints(): EndpointInfo[];
  /**
   * Resolves once the resolver has answered and every endpoint it listed has connected or failed
   * to (so a consistent-hash key is on its final owner from the first call); rejects on close().
   */
  ready(): Promise<void>;
  /** Calls `callback` once an endpoint is ready, or with an error at the deadline. */
  waitForReady(deadline: Date | number, callback: (error?: Error) => void): void;
  /** Follows resolver updates and endpoint changes (metrics, health checks, tests). */
  observe(observer: EndpointSetObserver): () => void;
  /** Stops resolving and closes every channel. */
  close(): void;
}

/**
 * A grpc-js client constructor (proto-loader, grpc-tools, ts-proto). Its static `service` is
 * checked when the client is created: grpc_tools_node_protoc_ts's declarations leave it out.
 */
export type Stub<T> = new (...args: any[]) => T;

