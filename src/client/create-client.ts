import type { ChannelOptions, ServiceDefinition } from '@grpc/grpc-js';
import { weightedRoundRobin } from '../balancer/weighted-round-robin';
import { compose } from '../middleware/compose';
import type { Middleware, Next } from '../core/middleware';
import { parseTarget, resolveTarget } from '../resolver/target';
import type { Resolver } from '../resolver/types';
// Each built-in resolver registers its target scheme when loaded.
import '../resolver/static';
import '../resolver/memory';
import '../resolver/dns';
import '../resolver/consul';
import { DEFAULT_CONNECT_TIMEOUT_MS } from './endpoint';
import { EndpointSet } from './endpoint-set';
import { grpcCopyOf } from './grpc-copy';
import { grpcConfig } from './grpc-config';
import { resolveHealthCheckOptions, startHealthChecking } from './health-check';
import { silentLogger } from '../core/logger';
import type { StubOfDefinition } from './method-types';
import type { AsyncClient, ClientOptions, LoadBalancedClient, LoadBalancedClientBase, Stub } from './types';
import { clientViewOf } from './client-view';
import { transport } from './transport';
import { monotonicClock } from '../core/clock';
import { timerDelay } from '../core/duration';
import { numberOption } from '../core/options';
import { Invoker, toEpochMs } from './invoker';
import { methodTable } from './methods';
import { asError } from '../discovery/errors';

export type {
  AsyncCallOptions,
  AsyncClient,
  AsyncMethod,
  ClientOptions,
  LbCallOptions,
  LoadBalancedClient,
  LoadBalancedClientBase,
  Stub,
} from './types';

/** How long a call without a deadline waits for a first resolution or a ready endpoint before failing UNAVAILABLE. */
export const DEFAULT_PICK_TIMEOUT_MS = 10_000;

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

/** A timeout in ms: a number > 0, or Infinity for none. */
function timeoutOption(field: string, value: number | undefined, fallback: number): number {
  return value === Infinity ? value : numberOption('createClient', `options.${field}`, value, fallback, { above: 0 });
}

/**
 * Wraps a grpc-js stub over a load-balanced, live set of endpoints. The result has every method
 * of the stub with the same signatures and call objects.
 */
export function createClient<T>(stub: Stub<T>, options: ClientOptions): LoadBalancedClient<T>;
/** From a service definition: typed when the definition is typed method by method (ts-proto, grpc_tools_node_protoc_ts). */
export function createClient<D extends ServiceDefinition>(definition: D, options: ClientOptions): LoadBalancedClient<StubOfDefinition<D>>;
export function createClient<T>(stub: Stub<T> | ServiceDefinition, options: ClientOptions): LoadBalancedClient<T> {
  const service = serviceOf(stub);
  if (options === null || typeof options !== 'object') throw new TypeError('createClient(stub, options): options must be an object');
  const grpc = grpcCopyOf(stub, options.credentials);
  const {
    target,
    resolver,
    credentials = grpc.module.credentials.createInsecure(),
    tlsServerName,
    logger = silentLogger,
    now = Date.now,
    random = Math.random,
  } = options;
  const connectTimeoutMs = timeoutOption('connectTimeoutMs', options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS);
  const pickTimeoutMs = timeoutOption('pickTimeoutMs', options.pickTimeoutMs, DEFAULT_PICK_TIMEOUT_MS);
  const configured = grpcConfig(options, { pickTimeoutMs, now, random });
  const { middleware, channelOptions } = configured;
  const balancer = configured.balancer ?? weightedRoundRobin();
  const healthCheck = configured.healthCheck === undefined ? undefined : resolveHealthCheckOptions(configured.healthCheck);
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

  // One monotonic clock for the endpoints' moving averages and the attempts' latency samples: the
  // injected `now` when given (tests drive everything by hand), else performance.now().
  const statsClock = options.now ?? monotonicClock;
  const set = new EndpointSet({
    service: chosen.service,
    target: targetText,
    balancer,
    makeClient: (address) => new grpc.Client(address, credentials, finalChannelOptions),
    connectTimeoutMs,
    now,
    statsClock,
    random,
    logger,
    resolveNow: chosen.resolver.resolveNow && (() => chosen.resolver.resolveNow!(chosen.service)),
  });
  const { view, control } = clientViewOf(set, chosen.service, targetText, logger);
  // A balancer that learns from the calls (load reports in their trailers) brings a middleware: innermost, around every attempt.
  const carried = (balancer as { middleware?: Middleware }).middleware;
  const chainMiddleware = typeof carried === 'function' ? [...middleware, carried] : middleware;
  const picked = chainMiddleware.flatMap((mw) => (typeof mw.picked === 'function' ? [mw.picked.bind(mw)] : []));
  const chain: Next = compose(chainMiddleware, transport(set, { pickTimeoutMs, now, statsClock, picked, clientInterceptors: carriesInterceptors(channelOptions) }));
  const detachers: (() => void)[] = [];
  if (healthCheck) {
    // Health checking is the client's own: it sets the endpoints' serving flag itself.
    const checked = { service: chosen.service, endpoints: () => set.all(), observe: set.observe.bind(set) };
    detachers.push(startHealthChecking(checked, healthCheck, logger, random, now));
  }
  for (const mw of chainMiddleware) {
    const detach = mw.attach?.(view, control);
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

  const invoker = new Invoker(view, chain, logger, now);
  const { methods, asyncMethods } = methodTable(service, invoker);

  let closed = false;
  const base: LoadBalancedClientBase<T> = {
    async: asyncMethods as AsyncClient<T>,
    endpoints: () => set.list(),
    observe: (observer) => set.observe(observer),
    ready: () => set.settled(),
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
      invoker.cancelAll();
      set.close();
    },
  };
  return Object.assign(Object.create(null), methods, base) as LoadBalancedClient<T>;
}

/** True when grpc-js's Client, given these options, would run interceptors or a call-invocation transformer on every call. */
function carriesInterceptors(options: ChannelOptions): boolean {
  const { interceptors, interceptor_providers: providers, callInvocationTransformer } = options as { interceptors?: unknown; interceptor_providers?: unknown; callInvocationTransformer?: unknown };
  return (Array.isArray(interceptors) && interceptors.length > 0) || (Array.isArray(providers) && providers.length > 0) || callInvocationTransformer !== undefined;
}
