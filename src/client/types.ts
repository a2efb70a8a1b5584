// The public types of createClient: its options, per-call options, and the client it returns,
// typed from the stub so that a typed stub gives a typed client.
import type { CallOptions, ChannelCredentials, ChannelOptions, Client, ClientReadableStream, Metadata, ServiceDefinition } from '@grpc/grpc-js';
import type { Balancer } from '../balancer/types';
import type { Middleware } from '../middleware/types';
import type { Resolver } from '../resolver/types';
import type { EndpointInfo } from './endpoint';
import type { EndpointSetObserver } from './endpoint-set';
import type { HealthCheckOptions } from './health-check';
import type { Logger } from './logger';

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
  /** grpc-js channel options, applied to every endpoint's channel. */
  channelOptions?: ChannelOptions;
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

/** Per-call options beyond grpc-js's own, accepted by every method. */
export interface LbCallOptions extends CallOptions {
  /** Consistent-hash key of this call. */
  hashKey?: string;
  /** Cancels the call when aborted. */
  signal?: AbortSignal;
}

/** Options of the async/await methods. */
export interface AsyncCallOptions {
  /** Absolute deadline (Date or epoch ms). */
  deadline?: Date | number;
  metadata?: Metadata;
  hashKey?: string;
  signal?: AbortSignal;
  /** Further grpc-js call options (interceptors, credentials, …). */
  callOptions?: CallOptions;
}

type AnyFunction = (...args: any[]) => any;
type FirstArgument<F> = F extends (first: infer A, ...rest: any[]) => any ? A : unknown;
type LastCallbackValue<F> = F extends (...args: infer A) => any ? (A extends [...any[], (error: any, response: infer R) => any] ? R : unknown) : unknown;

/** The async/await form of a stub method: unary and client streams resolve, server and bidi streams iterate. */
export type AsyncMethod<F> = F extends (...args: any[]) => ClientReadableStream<infer R>
  ? F extends (...args: any[]) => { write: AnyFunction }
    ? (requests: Iterable<unknown> | AsyncIterable<unknown>, options?: AsyncCallOptions) => AsyncIterable<R>
    : (request: FirstArgument<F>, options?: AsyncCallOptions) => AsyncIterable<R>
  : F extends (...args: any[]) => { write: AnyFunction }
    ? (requests: Iterable<unknown> | AsyncIterable<unknown>, options?: AsyncCallOptions) => Promise<LastCallbackValue<F>>
    : (request: FirstArgument<F>, options?: AsyncCallOptions) => Promise<LastCallbackValue<F>>;

/** True for stubs whose methods are not typed: proto-loader's without generated types, plain service definitions. */
type Untyped<T> = unknown extends T ? true : string extends keyof T ? true : false;

export type AsyncClient<T> =
  Untyped<T> extends true
    ? Record<string, (request?: any, options?: AsyncCallOptions) => any>
    : { [K in Exclude<keyof T, keyof Client> as T[K] extends AnyFunction ? K : never]: AsyncMethod<T[K]> };

/**
 * What the stub's constructor makes, minus grpc-js's single-channel methods, plus ours. An
 * untyped stub gives an untyped client.
 */
export type LoadBalancedClient<T> =
  Untyped<T> extends true
    ? LoadBalancedClientBase<T> & Record<string, any>
    : Omit<T, keyof Client> & LoadBalancedClientBase<T>;

export interface LoadBalancedClientBase<T> {
  /** async/await forms of every method. */
  readonly async: AsyncClient<T>;
  /** The endpoints with their state and live stats. */
  endpoints(): EndpointInfo[];
  /** Calls `callback` once an endpoint is ready, or with an error at the deadline. */
  waitForReady(deadline: Date | number, callback: (error?: Error) => void): void;
  /** Follows resolver updates and endpoint changes (metrics, health checks, tests). */
  observe(observer: EndpointSetObserver): () => void;
  /** Stops resolving and closes every channel. */
  close(): void;
}

/** A grpc-js client constructor (proto-loader, grpc-tools, ts-proto) or a service definition. */
export type Stub<T> = (new (...args: any[]) => T) & { service: ServiceDefinition };

