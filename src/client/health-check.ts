import { Metadata, status as Status, type ClientReadableStream, type ClientUnaryCall, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { backoffDelay, type BackoffOptions } from '../core/backoff';
import { systemClock, type Clock } from '../core/clock';
import { positiveDurationOption } from '../core/options';
import { describeValue } from '../core/text';
import { CHECK, WATCH } from './health-proto';
import type { ClientEndpoint } from './endpoint';
import type { Logger } from '../core/logger';
import type { EndpointSetObserver } from './endpoint-set';

/** Options of active health checking with the standard grpc.health.v1 protocol. */
export interface HealthCheckOptions {
  /** The service name sent in the health request; '' (the default) asks about the whole server. */
  service?: string;
  /** How often Check is polled on servers that do not implement Watch. Default 5 s. */
  intervalMs?: number;
  /** How long a health answer (a Check, or the first message of a Watch) may take before the endpoint counts as not serving. Default 1 s. */
  timeoutMs?: number;
}

/** Health checking options after validation, defaults applied. */
export interface ResolvedHealthCheckOptions {
  readonly service: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

/** Takes a failing instance out within seconds, while hundreds of clients polling one server cost it next to nothing. */
export const DEFAULT_HEALTH_CHECK_INTERVAL_MS = 5_000;
/** Kubernetes' gRPC probe default: a health answer is a map lookup, so a server that needs longer is in trouble. */
export const DEFAULT_HEALTH_CHECK_TIMEOUT_MS = 1_000;
export const DEFAULT_HEALTH_CHECK_SERVICE = '';

/**
 * Re-establishing a broken Watch: gRPC's connection-backoff numbers (1 s, ×1.6, ±20 %), capped
 * lower than its 120 s because the endpoint's health is stale for as long as the Watch is down.
 */
const WATCH_RETRY_BACKOFF: BackoffOptions = Object.freeze({ initialMs: 1_000, maxMs: 30_000, multiplier: 1.6, jitter: 0.2 });

const SERVING = 'SERVING';

/** Validates `createClient`'s `healthCheck` option, naming the bad field; undefined when checking is off. */
export function resolveHealthCheckOptions(value: boolean | HealthCheckOptions): ResolvedHealthCheckOptions | undefined {
  if (value === false) return undefined;
  if (value !== true && (value === null || typeof value !== 'object')) {
    throw new TypeError(`createClient: options.healthCheck must be true, false or an object of options, got ${describeValue(value)}`);
  }
  const given: HealthCheckOptions = value === true ? {} : value;
  const service: unknown = given.service === undefined ? DEFAULT_HEALTH_CHECK_SERVICE : given.service;
  // '' is a valid name here (the whole server), which no non-empty-string check would pass.
  if (typeof service !== 'string') throw new TypeError(`createClient: options.healthCheck.service must be a string ('' for the whole server), got ${describeValue(service)}`);
  // Each becomes a timer: beyond what a timer honours it would fire after 1 ms.
  const intervalMs = positiveDurationOption('createClient', 'options.healthCheck.intervalMs', given.intervalMs, DEFAULT_HEALTH_CHECK_INTERVAL_MS);
  const timeoutMs = positiveDurationOption('createClient', 'options.healthCheck.timeoutMs', given.timeoutMs, DEFAULT_HEALTH_CHECK_TIMEOUT_MS);
  return Object.freeze({ service, intervalMs, timeoutMs });
}

/** What health checking needs of its client: the endpoints themselves, whose serving flag it sets. */
export interface CheckedEndpoints {
  readonly service: string;
  endpoints(): readonly ClientEndpoint[];
  observe(observer: EndpointSetObserver): () => void;
}

/**
 * Checks the health of every endpoint of `view`, present and future, on the endpoint's own
 * channel: grpc.health.v1 Watch, or Check polling where Watch is not implemented. An endpoint
 * whose server says anything but SERVING leaves the picker until it says SERVING again.
 * Until its first answer an endpoint counts as serving, so turning checking on never holds back
 * the first calls; a server without the health service counts as serving throughout.
 * Returns a function that stops all checking (no stream or timer is left behind).
 */
export function startHealthChecking(view: CheckedEndpoints, options: ResolvedHealthCheckOptions, logger: Logger, random: () => number = Math.random, now: Clock = systemClock): () => void {
  const checkers = new Map<ClientEndpoint, EndpointHealth>();
  const tools: HealthTools = { logger, random, now };
  const add = (endpoint: ClientEndpoint) => {
    if (checkers.has(endpoint) || endpoint.state === 'shutdown') return;
    const checker = new EndpointHealth(endpoint, view.service, options, tools);
    checkers.set(endpoint, checker);
    checker.update();
  };
  const stopObserving = view.observe({
    onEndpointAdded: add,
    onEndpointChanged: (endpoint) => checkers.get(endpoint)?.update(),
    onEndpointRemoved: (endpoint) => {
      checkers.get(endpoint)?.stop();
      checkers.delete(endpoint);
    },
  });
  for (const endpoint of view.endpoints()) add(endpoint);
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    stopObserving();
    for (const checker of checkers.values()) checker.stop();
    checkers.clear();
  };
}

type HealthResponse = { status?: string };

/** What the health checking of every endpoint shares. */
interface HealthTools {
  readonly logger: Logger;
  readonly random: () => number;
  /** Wall clock, epoch ms: Check deadlines. */
  readonly now: Clock;
}

/** The health checking of one endpoint: at most one health call or one timer at a time. */
class EndpointHealth {
  /** Watch until the server proves it has none, then Check; 'off' for a server without a health service. */
  private mode: 'watch' | 'check' | 'off' = 'watch';
  private call: ClientReadableStream<HealthResponse> | ClientUnaryCall | undefined = undefined;
  private timer: NodeJS.Timeout | undefined = undefined;
  private failures = 0;
  private wasReady = false;
  private stopped = false;
  private warnedNoHealthService = false;
  private readonly fields: { service: string; address: string; healthService: string };
  private readonly logger: Logger;

  constructor(
    private readonly endpoint: ClientEndpoint,
    service: string,
    private readonly options: ResolvedHealthCheckOptions,
    private readonly tools: HealthTools,
  ) {
    this.logger = tools.logger;
    this.fields = { service, address: endpoint.address, healthService: options.service };
  }

  /** The endpoint appeared or changed: a fresh connection gets a fresh health call. */
  update(): void {
    if (this.stopped) return;
    const ready = this.endpoint.state === 'ready';
    if (ready === this.wasReady) return;
    this.wasReady = ready;
    // While the connection is down, the health call fails with it and nothing can be asked.
    if (!ready) return;
    // A new connection may lead to a restarted (or upgraded) server: start over with Watch.
    this.clear();
    this.mode = 'watch';
    this.failures = 0;
    this.probe();
  }

  stop(): void {
    this.stopped = true;
    this.clear();
  }

  private probe(): void {
    if (this.stopped || this.endpoint.state !== 'ready') return;
    if (this.mode === 'watch') this.watch();
    else if (this.mode === 'check') this.check();
  }

  private watch(): void {
    const { service, timeoutMs } = this.options;
    const call: ClientReadableStream<HealthResponse> = this.endpoint.client.makeServerStreamRequest(WATCH.path, WATCH.requestSerialize, WATCH.responseDeserialize, { service }, new Metadata(), {});
    this.call = call;
    let timedOut = false;
    const firstAnswer = setTimeout(() => {
      // Silence over a connection that has since dropped is the connection's fault, not the server's health.
      timedOut = this.endpoint.state === 'ready';
      call.cancel();
    }, timeoutMs);
    firstAnswer.unref();
    call.on('data', (response: HealthResponse) => {
      if (this.call !== call) return;
      clearTimeout(firstAnswer);
      this.failures = 0;
      this.report(response.status);
    });
    // The outcome is read from 'status'; this only keeps an unheard 'error' from throwing.
    call.on('error', ignore);
    call.on('status', (status: StatusObject) => {
      clearTimeout(firstAnswer);
      if (this.call !== call) return;
      this.call = undefined;
      if (timedOut) {
        this.unhealthy(`no answer to Watch within ${timeoutMs} ms`);
      } else if (status.code === Status.UNIMPLEMENTED) {
        this.logger.debug(this.fields, 'health Watch not implemented; polling Check');
        this.mode = 'check';
        this.probe();
        return;
      } else {
        this.logger.debug({ ...this.fields, code: Status[status.code], details: status.details }, 'health Watch ended; re-establishing');
      }
      this.retry();
    });
  }

  private check(): void {
    const { service, timeoutMs, intervalMs } = this.options;
    const call = this.endpoint.client.makeUnaryRequest(
      CHECK.path,
      CHECK.requestSerialize,
      CHECK.responseDeserialize,
      { service },
      new Metadata(),
      { deadline: this.tools.now() + timeoutMs },
      (error: ServiceError | null, response?: HealthResponse) => {
        if (this.call !== call) return;
        this.call = undefined;
        if (!error) {
          this.report(response?.status);
        } else if (error.code === Status.UNIMPLEMENTED) {
          this.noHealthService();
          return;
        } else if (error.code === Status.NOT_FOUND) {
          // Check's way of saying SERVICE_UNKNOWN.
          this.report('SERVICE_UNKNOWN');
        } else if (error.code === Status.DEADLINE_EXCEEDED && this.endpoint.state === 'ready') {
          this.unhealthy(`no answer to Check within ${timeoutMs} ms`);
        } else {
          // Other failures are the connection's, which takes the endpoint out by itself.
          this.logger.debug({ ...this.fields, code: Status[error.code], details: error.details }, 'health Check failed');
        }
        this.schedule(intervalMs);
      },
    );
    this.call = call;
  }

  private report(status: string | undefined): void {
    // Anything but SERVING (NOT_SERVING, SERVICE_UNKNOWN, UNKNOWN) keeps the endpoint out, as in gRPC's own client-side health checking.
    const serving = status === SERVING;
    if (serving !== this.endpoint.serving) {
      const fields = { ...this.fields, status: status ?? 'UNKNOWN' };
      if (serving) this.logger.info(fields, 'endpoint serving again; back in the picker');
      else this.logger.warn(fields, 'endpoint not serving; out of the picker');
    }
    this.endpoint.setServing(serving);
  }

  private unhealthy(reason: string): void {
    if (this.endpoint.serving) this.logger.warn({ ...this.fields, reason }, 'endpoint health check timed out; out of the picker');
    this.endpoint.setServing(false);
  }

  private noHealthService(): void {
    // A server without the health service cannot be judged by it; refusing it every call would
    // turn a missing registration into an outage.
    this.mode = 'off';
    if (!this.warnedNoHealthService) {
      this.warnedNoHealthService = true;
      this.logger.warn(this.fields, 'server implements neither health Watch nor Check; treating it as serving');
    }
    this.endpoint.setServing(true);
  }

  private retry(): void {
    this.schedule(backoffDelay(++this.failures, WATCH_RETRY_BACKOFF, this.tools.random));
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.probe();
    }, delayMs);
    this.timer.unref();
  }

  private clear(): void {
    const call = this.call;
    // Cleared first, so the cancelled call's own 'status' is recognised as stale and ignored.
    this.call = undefined;
    call?.cancel();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

function ignore(): void {}
