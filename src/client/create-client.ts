import { performance } from 'node:perf_hooks';
import {
  Client,
  Metadata,
  credentials as grpcCredentials,
  status as Status,
  type CallOptions,
  type ChannelCredentials,
  type ChannelOptions,
  type ClientReadableStream,
  type MethodDefinition,
  type ServiceDefinition,
  type ServiceError,
} from '@grpc/grpc-js';
import { weightedRoundRobin } from '../balancer/weighted-round-robin';
import type { Balancer } from '../balancer/types';
import { compose } from '../middleware/compose';
import type { Middleware, Next } from '../middleware/types';
import { parseTarget, resolveTarget } from '../resolver/target';
import type { Resolver } from '../resolver/types';
// Each built-in resolver registers its target scheme when loaded.
import '../resolver/static';
import '../resolver/memory';
import '../resolver/dns';
import '../resolver/consul';
import {
  BidiStreamCall,
  ClientStreamCall,
  missingOutcome,
  serviceError,
  ServerStreamCall,
  UnaryCall,
  type StreamProxy,
  type UnaryCallback,
} from './calls';
import { CallContext, type CallType } from './context';
import { DEFAULT_CONNECT_TIMEOUT_MS, type EndpointInfo } from './endpoint';
import { EndpointSet, type EndpointSetObserver } from './endpoint-set';
import { resolveHealthCheckOptions, startHealthChecking, type HealthCheckOptions } from './health-check';
import { silentLogger, type Logger } from './logger';
import type { ClientView } from './view';
import { attachStream, timerDelay, transport } from './transport';
import { asError } from '../resolver/listener';

/** How long a call without a deadline waits for a first resolution or a ready endpoint before failing UNAVAILABLE. */
export const DEFAULT_PICK_TIMEOUT_MS = 10_000;

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

const METHOD_KEYS = ['path', 'requestStream', 'responseStream', 'requestSerialize', 'responseDeserialize'] as const;

function serviceOf(stub: unknown): ServiceDefinition {
  const service = typeof stub === 'function' ? (stub as { service?: unknown }).service : stub;
  if (service === null || typeof service !== 'object') {
    throw new TypeError('createClient(stub): stub must be a grpc-js client constructor (with a static `service`) or a ServiceDefinition');
  }
  const entries = Object.entries(service as Record<string, unknown>);
  if (entries.length === 0) throw new TypeError('createClient(stub): the service definition has no methods');
  for (const [name, def] of entries) {
    const missing = METHOD_KEYS.filter((key) => def === null || typeof def !== 'object' || (def as Record<string, unknown>)[key] === undefined);
    if (missing.length > 0) {
      throw new TypeError(`createClient(stub): method "${name}" of the service definition lacks ${missing.join(', ')}`);
    }
  }
  return service as ServiceDefinition;
}

function typeOf(def: MethodDefinition<unknown, unknown>): CallType {
  if (def.requestStream) return def.responseStream ? 'bidi_stream' : 'client_stream';
  return def.responseStream ? 'server_stream' : 'unary';
}

function checkPositive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0) {
    throw new TypeError(`createClient: options.${name} must be a number > 0 (milliseconds), got ${String(value)}`);
  }
  return value;
}

function toEpochMs(deadline: Date | number | undefined, field: string): number {
  if (deadline === undefined) return Infinity;
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  if (typeof ms !== 'number' || Number.isNaN(ms)) throw new TypeError(`${field} must be a Date or epoch milliseconds, got ${String(deadline)}`);
  return ms;
}

function isFunction(value: unknown): value is AnyFunction {
  return typeof value === 'function';
}

/** grpc-js's argument rules: (metadata?, options?, callback?) in that order, each optional. */
function splitArguments(a: unknown, b: unknown, c: unknown): { metadata: Metadata; options: LbCallOptions; callback: UnaryCallback | undefined } {
  let metadata: Metadata | undefined;
  let options: LbCallOptions | undefined;
  let callback: UnaryCallback | undefined;
  let next = a;
  if (next instanceof Metadata) {
    metadata = next;
    next = b;
    b = c;
    c = undefined;
  }
  if (next !== null && typeof next === 'object' && !(next instanceof Metadata)) {
    options = next as LbCallOptions;
    next = b;
    b = c;
    c = undefined;
  }
  if (isFunction(next)) {
    callback = next as UnaryCallback;
    next = b;
  }
  if ((next !== undefined && next !== null) || (c !== undefined && c !== null)) {
    throw new TypeError('Incorrect arguments passed: expected (request?, metadata?, options?, callback?)');
  }
  return { metadata: metadata ?? new Metadata(), options: options ?? EMPTY_OPTIONS, callback };
}

const EMPTY_OPTIONS: LbCallOptions = Object.freeze({});

/**
 * Wraps a grpc-js stub over a load-balanced, live set of endpoints. The result has every method
 * of the stub with the same signatures and call objects.
 */
export function createClient<T>(stub: Stub<T> | ServiceDefinition, options: ClientOptions): LoadBalancedClient<T> {
  const service = serviceOf(stub);
  if (options === null || typeof options !== 'object') throw new TypeError('createClient(stub, options): options must be an object');
  const {
    target,
    resolver,
    balancer = weightedRoundRobin(),
    middleware = [],
    credentials = grpcCredentials.createInsecure(),
    tlsServerName,
    channelOptions = {},
    logger = silentLogger,
    now = Date.now,
    random = Math.random,
  } = options;
  const connectTimeoutMs = checkPositive('connectTimeoutMs', options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS);
  const pickTimeoutMs = checkPositive('pickTimeoutMs', options.pickTimeoutMs, DEFAULT_PICK_TIMEOUT_MS);
  const healthCheck = options.healthCheck === undefined ? undefined : resolveHealthCheckOptions(options.healthCheck);
  if (!balancer || typeof balancer.build !== 'function') throw new TypeError('createClient: options.balancer must be a Balancer (an object with build())');
  if (!Array.isArray(middleware)) throw new TypeError('createClient: options.middleware must be an array');
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof logger?.[level] !== 'function') throw new TypeError(`createClient: options.logger must have a ${level}(fields, message) method, like a pino logger`);
  }
  for (const [name, fn] of [['now', now], ['random', random]] as const) {
    if (typeof fn !== 'function') throw new TypeError(`createClient: options.${name} must be a function`);
  }
  if (tlsServerName !== undefined && (typeof tlsServerName !== 'string' || tlsServerName.length === 0)) {
    throw new TypeError('createClient: options.tlsServerName must be a non-empty host name');
  }

  let chosen: { resolver: Resolver; service: string };
  let targetText: string;
  if (resolver) {
    if (typeof resolver.watch !== 'function') throw new TypeError('createClient: options.resolver must be a Resolver (an object with watch())');
    const parsed = target !== undefined ? parseTarget(target) : undefined;
    const name = options.service ?? parsed?.path;
    if (!name) throw new TypeError('createClient: with options.resolver, give options.service (or a target whose path names the service)');
    chosen = { resolver, service: name };
    targetText = target ?? `${name} (custom resolver)`;
  } else {
    if (target === undefined) throw new TypeError('createClient: give options.target (e.g. "static:///10.0.0.1:50051") or options.resolver');
    const parsed = parseTarget(target);
    const resolved = resolveTarget(parsed);
    chosen = { resolver: resolved.resolver, service: options.service ?? resolved.service };
    targetText = parsed.text;
  }

  const finalChannelOptions: ChannelOptions = {
    // Each endpoint gets its own connection: with grpc-js's shared pool, a channel made to replace
    // one stuck connecting would pick the same stuck connection up again.
    'grpc.use_local_subchannel_pool': 1,
    ...channelOptions,
  };
  if (tlsServerName) {
    finalChannelOptions['grpc.ssl_target_name_override'] = tlsServerName;
    finalChannelOptions['grpc.default_authority'] = tlsServerName;
  }

  const set = new EndpointSet({
    service: chosen.service,
    target: targetText,
    balancer,
    makeClient: (address) => new Client(address, credentials, finalChannelOptions),
    connectTimeoutMs,
    now,
    statsClock: options.now ?? (() => performance.now()),
    random,
    logger,
    resolveNow: chosen.resolver.resolveNow && (() => chosen.resolver.resolveNow!(chosen.service)),
  });
  const view: ClientView = {
    service: chosen.service,
    target: targetText,
    endpoints: () => set.all(),
    observe: (observer) => set.observe(observer),
    lastResolvedAt: () => set.lastResolvedAt,
  };
  // A balancer that learns from the calls (load reports in their trailers) brings a middleware: innermost, around every attempt.
  const carried = (balancer as { middleware?: Middleware }).middleware;
  const chainMiddleware = typeof carried === 'function' ? [...middleware, carried] : middleware;
  const picked = chainMiddleware.flatMap((mw) => (typeof mw.picked === 'function' ? [mw.picked.bind(mw)] : []));
  const chain: Next = compose(chainMiddleware, transport(set, { pickTimeoutMs, now, picked }));
  const detachers: (() => void)[] = [];
  if (healthCheck) detachers.push(startHealthChecking(view, healthCheck, logger, random));
  for (const mw of chainMiddleware) {
    const detach = mw.attach?.(view);
    if (typeof detach === 'function') detachers.push(detach);
  }

  let stopWatch: () => void;
  try {
    stopWatch = chosen.resolver.watch(chosen.service, set);
  } catch (error) {
    // A resolver that throws breaks its contract; the calls still get a clear answer.
    set.onError(asError(error));
    stopWatch = () => undefined;
  }

  const context = (def: MethodDefinition<unknown, unknown>, request: unknown, metadata: Metadata, callOptions: LbCallOptions) => {
    const { deadline, hashKey } = callOptions;
    let grpcOptions: CallOptions = callOptions;
    if (callOptions !== EMPTY_OPTIONS) {
      const { deadline: _d, hashKey: _h, signal: _s, ...rest } = callOptions;
      grpcOptions = rest;
    }
    const ctx = new CallContext({
      client: view,
      service: chosen.service,
      target: targetText,
      method: def.path,
      type: typeOf(def),
      definition: def,
      request,
      metadata,
      deadline: toEpochMs(deadline as Date | number | undefined, 'call option deadline'),
      hashKey,
      callOptions: grpcOptions,
      startedAt: now(),
    });
    return ctx;
  };

  const asyncContext = (def: MethodDefinition<unknown, unknown>, request: unknown, opts: AsyncCallOptions) =>
    context(def, request, opts.metadata ?? new Metadata(), {
      ...opts.callOptions,
      deadline: opts.deadline ?? opts.callOptions?.deadline,
      hashKey: opts.hashKey,
      signal: opts.signal,
    });

  /** Calls under way, so close() can cancel them: grpc-js lets calls on a closed channel run on. */
  const live = new Set<CallContext>();

  const run = (ctx: CallContext, deliver: () => void, signal: AbortSignal | undefined) => {
    live.add(ctx);
    let onAbort: (() => void) | undefined;
    if (signal) {
      if (signal.aborted) ctx.abort(Status.CANCELLED);
      else signal.addEventListener('abort', (onAbort = () => ctx.abort(Status.CANCELLED)), { once: true });
    }
    const done = () => {
      live.delete(ctx);
      if (onAbort) signal!.removeEventListener('abort', onAbort);
      deliver();
    };
    chain(ctx).then(done, (error: unknown) => {
      logger.error({ service: chosen.service, method: ctx.method, err: String(error) }, 'middleware threw');
      ctx.fail(Status.INTERNAL, `middleware threw during ${ctx.method}: ${error instanceof Error ? error.message : String(error)}`);
      done();
    });
  };

  const statusOf = (ctx: CallContext) => ctx.status ?? missingOutcome(ctx);

  const methods: Record<string, AnyFunction> = {};
  const asyncMethods: Record<string, AnyFunction> = {};
  for (const [name, def] of Object.entries(service) as [string, MethodDefinition<unknown, unknown>][]) {
    const type = typeOf(def);
    let method: AnyFunction;
    let asyncMethod: AnyFunction;
    switch (type) {
      case 'unary':
        method = (request: unknown, a?: unknown, b?: unknown, c?: unknown) => {
          const args = splitArguments(a, b, c);
          if (!args.callback) throw new TypeError(`${name}: a unary call needs a callback (or use client.async.${name})`);
          const ctx = context(def, request, args.metadata, args.options);
          const call = new UnaryCall(ctx);
          const callback = args.callback;
          run(ctx, () => call.finish(statusOf(ctx), ctx.response, callback), args.options.signal);
          return call;
        };
        asyncMethod = (request: unknown, opts: AsyncCallOptions = {}) =>
          new Promise((resolve, reject) => {
            const ctx = asyncContext(def, request, opts);
            run(
              ctx,
              () => {
                const status = statusOf(ctx);
                if (status.code === Status.OK) resolve(ctx.response);
                else reject(serviceError(status));
              },
              opts.signal,
            );
          });
        break;
      case 'server_stream':
        method = (request: unknown, a?: unknown, b?: unknown) => {
          const args = splitArguments(a, b, undefined);
          const ctx = context(def, request, args.metadata, args.options);
          return startStream(ctx, new ServerStreamCall(ctx, def.responseDeserialize), args.options.signal);
        };
        asyncMethod = (request: unknown, opts: AsyncCallOptions = {}) => {
          const ctx = asyncContext(def, request, opts);
          return startStream(ctx, new ServerStreamCall(ctx, def.responseDeserialize), opts.signal);
        };
        break;
      case 'client_stream':
        method = (a?: unknown, b?: unknown, c?: unknown) => {
          const args = splitArguments(a, b, c);
          if (!args.callback) throw new TypeError(`${name}: a client-streaming call needs a callback (or use client.async.${name})`);
          const ctx = context(def, undefined, args.metadata, args.options);
          return startStream(ctx, new ClientStreamCall(ctx, def.requestSerialize), args.options.signal, args.callback);
        };
        asyncMethod = (requests: Iterable<unknown> | AsyncIterable<unknown>, opts: AsyncCallOptions = {}) =>
          new Promise((resolve, reject) => {
            const ctx = asyncContext(def, undefined, opts);
            const call = new ClientStreamCall(ctx, def.requestSerialize);
            startStream(ctx, call, opts.signal, (error, response) => (error ? reject(error) : resolve(response)));
            pump(requests, call);
          });
        break;
      default:
        method = (a?: unknown, b?: unknown) => {
          const args = splitArguments(a, b, undefined);
          const ctx = context(def, undefined, args.metadata, args.options);
          return startStream(ctx, new BidiStreamCall(ctx, def.requestSerialize, def.responseDeserialize), args.options.signal);
        };
        asyncMethod = (requests: Iterable<unknown> | AsyncIterable<unknown>, opts: AsyncCallOptions = {}) => {
          const ctx = asyncContext(def, undefined, opts);
          const call = new BidiStreamCall(ctx, def.requestSerialize, def.responseDeserialize);
          startStream(ctx, call, opts.signal);
          pump(requests, call);
          return call;
        };
    }
    methods[name] = method;
    asyncMethods[name] = asyncMethod;
    // grpc-js also offers each method under its original (camelCase) name.
    const original = (def as { originalName?: string }).originalName;
    if (original && !(original in methods)) {
      methods[original] = method;
      asyncMethods[original] = asyncMethod;
    }
  }

  function startStream<P extends StreamProxy>(ctx: CallContext, proxy: P, signal: AbortSignal | undefined, callback?: UnaryCallback): P {
    attachStream(ctx, proxy);
    run(ctx, () => proxy.finish(statusOf(ctx), ctx.response, callback), signal);
    return proxy;
  }

  let closed = false;
  const base: LoadBalancedClientBase<T> = {
    async: asyncMethods as AsyncClient<T>,
    endpoints: () => set.list(),
    observe: (observer) => set.observe(observer),
    waitForReady(deadline, callback) {
      const until = toEpochMs(deadline, 'waitForReady deadline');
      const check = (): void => {
        if (set.all().some((endpoint) => endpoint.available)) return callback();
        if (set.isClosed) return callback(new Error(`client for "${chosen.service}" (${targetText}) is closed`));
        const left = until - now();
        if (left <= 0) return callback(new Error(`no endpoint of "${chosen.service}" (${targetText}) became ready before the deadline: ${set.unavailability().message}`));
        const again = () => {
          clearTimeout(timer);
          removeWaiter();
          check();
        };
        const timer = setTimeout(again, timerDelay(left));
        const removeWaiter = set.onNextChange(again);
      };
      check();
    },
    close() {
      if (closed) return;
      closed = true;
      stopWatch();
      for (const detach of detachers) detach();
      for (const ctx of live) ctx.abort(Status.CANCELLED);
      set.close();
    },
  };
  return Object.assign(Object.create(null), methods, base) as LoadBalancedClient<T>;
}

/**
 * Writes `requests` into a client stream, ending it after the last. Stops pulling from the source
 * as soon as the call has ended (a failure, a cancel): the iterator is closed, not drained.
 */
async function pump(requests: Iterable<unknown> | AsyncIterable<unknown>, call: ClientStreamCall | BidiStreamCall): Promise<void> {
  let ended = false;
  const onStatus = () => (ended = true);
  call.once('status', onStatus);
  try {
    for await (const request of requests) {
      if (ended) return;
      if (!call.write(request)) await drainOrEnd(call);
      if (ended) return;
    }
    call.end();
  } catch {
    // The request source failed: the call cannot be completed, so it is cancelled, which the
    // caller sees as CANCELLED.
    call.cancel();
  } finally {
    call.off('status', onStatus);
  }
}

function drainOrEnd(call: ClientStreamCall | BidiStreamCall): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.off('drain', done);
      call.off('status', done);
      resolve();
    };
    call.on('drain', done);
    call.on('status', done);
  });
}
