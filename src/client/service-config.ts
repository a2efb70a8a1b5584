// gRPC's service config (https://github.com/grpc/grpc/blob/master/doc/service_config.md), as
// grpc-go and grpc-js users write it, read into this library's own parts: loadBalancingConfig
// becomes a balancer, methodConfig per-method timeouts, retry and hedging middleware,
// retryThrottling their shared budget, healthCheckConfig the client's health checking. Every
// field is checked here and a wrong one named by its path, e.g.
// `serviceConfig.methodConfig[0].retryPolicy.maxAttempts`.

import { status as Status } from '@grpc/grpc-js';
import { consistentHash } from '../balancer/consistent-hash';
import { leastConnection } from '../balancer/least-connection';
import { MIN_WEIGHT_UPDATE_PERIOD_MS, orcaWeighted } from '../balancer/orca-weighted';
import { peakEwma } from '../balancer/peak-ewma';
import { pickFirst } from '../balancer/pick-first';
import type { Balancer } from '../balancer/types';
import { weightedRandom } from '../balancer/weighted-random';
import { weightedRoundRobin } from '../balancer/weighted-round-robin';
import { MAX_TIMER_MS } from '../core/duration';
import { booleanOption, integerOption, numberOption, requiredInteger, requiredNumber } from '../core/options';
import { describeValue, excerpt } from '../core/text';

/** A gRPC service config, as an object or its JSON text. */
export interface ServiceConfig {
  loadBalancingConfig?: readonly Record<string, unknown>[];
  /** The deprecated form of loadBalancingConfig: a policy name. */
  loadBalancingPolicy?: string;
  methodConfig?: readonly MethodConfig[];
  retryThrottling?: { maxTokens: number; tokenRatio: number };
  healthCheckConfig?: { serviceName?: string };
}

export interface MethodConfig {
  /** Which methods: `{ service, method }` for one, `{ service }` for all of a service, `{}` for every method. */
  name?: readonly { service?: string; method?: string }[];
  /** gRPC duration text, e.g. "1.5s". */
  timeout?: string;
  waitForReady?: boolean;
  retryPolicy?: {
    maxAttempts: number;
    initialBackoff: string;
    maxBackoff: string;
    backoffMultiplier: number;
    retryableStatusCodes: readonly (string | number)[];
    perAttemptRecvTimeout?: string;
  };
  hedgingPolicy?: { maxAttempts: number; hedgingDelay?: string; nonFatalStatusCodes?: readonly (string | number)[] };
}

/** What one methodConfig entry asks for, in this library's terms. */
export interface MethodPolicy {
  readonly timeoutMs?: number;
  readonly waitForReady?: boolean;
  readonly retry?: {
    readonly maxAttempts: number;
    readonly initialBackoffMs: number;
    readonly maxBackoffMs: number;
    readonly backoffMultiplier: number;
    readonly retryableCodes: readonly Status[];
    readonly attemptTimeoutMs?: number;
  };
  readonly hedge?: { readonly maxAttempts: number; readonly delayMs: number; readonly nonFatalCodes?: readonly Status[] };
}

/** A checked service config. */
export interface ParsedServiceConfig {
  readonly balancer?: Balancer;
  /** Keyed "service/method", "service/" or "" (every method), as gRPC matches names. */
  readonly methods: ReadonlyMap<string, MethodPolicy>;
  readonly retryThrottling?: { readonly maxTokens: number; readonly tokenRatio: number };
  readonly healthCheck?: { readonly service: string };
  /** True when some method config retries or hedges. */
  readonly retries: boolean;
}

/** gRPC caps maxAttempts of retry and hedging policies at 5; larger values are treated as 5. */
export const MAX_SERVICE_CONFIG_ATTEMPTS = 5;
/** gRPC's bound on retryThrottling.maxTokens. */
const MAX_THROTTLING_TOKENS = 1000;
/** Sent when hedgingDelay is 0 ("all at once"): hedge() waits a positive delay. */
const IMMEDIATE_HEDGE_MS = 1;
const TOP_FIELDS = ['loadBalancingConfig', 'loadBalancingPolicy', 'methodConfig', 'retryThrottling', 'healthCheckConfig'];
const METHOD_FIELDS = ['name', 'timeout', 'waitForReady', 'retryPolicy', 'hedgingPolicy', 'maxRequestMessageBytes', 'maxResponseMessageBytes'];
const RETRY_FIELDS = ['maxAttempts', 'initialBackoff', 'maxBackoff', 'backoffMultiplier', 'retryableStatusCodes', 'perAttemptRecvTimeout'];
const HEDGE_FIELDS = ['maxAttempts', 'hedgingDelay', 'nonFatalStatusCodes'];

type Factory = (config: Record<string, unknown>, field: string) => Balancer;

/** Load-balancing policies by the names gRPC and this library use, each building one of our balancers. */
const POLICIES: Record<string, Factory> = {
  round_robin: (config, field) => (only(config, [], field), weightedRoundRobin()),
  pick_first: (config, field) => {
    only(config, ['shuffleAddressList'], field);
    return pickFirst({ shuffleAddressList: booleanOption('', `${field}.shuffleAddressList`, config.shuffleAddressList, undefined) });
  },
  // gRPC's weighted_round_robin (gRFC A58): weights from the servers' load reports.
  weighted_round_robin: (config, field) => {
    only(config, ['enableOobLoadReport', 'oobReportingPeriod', 'blackoutPeriod', 'weightExpirationPeriod', 'weightUpdatePeriod', 'errorUtilizationPenalty'], field);
    const ms = (key: string) => (config[key] === undefined ? undefined : duration(config[key], `${field}.${key}`));
    const weightUpdatePeriodMs = ms('weightUpdatePeriod');
    const penalty = numberOption('', `${field}.errorUtilizationPenalty`, config.errorUtilizationPenalty, undefined, { atLeast: 0 });
    return ours(field, () =>
      orcaWeighted({
        enableOobLoadReport: booleanOption('', `${field}.enableOobLoadReport`, config.enableOobLoadReport, undefined),
        oobReportingPeriodMs: ms('oobReportingPeriod') || undefined,
        blackoutPeriodMs: ms('blackoutPeriod'),
        weightExpirationPeriodMs: ms('weightExpirationPeriod') || undefined,
        // gRPC raises a shorter period to its floor rather than refusing it.
        weightUpdatePeriodMs: weightUpdatePeriodMs === undefined ? undefined : Math.max(weightUpdatePeriodMs, MIN_WEIGHT_UPDATE_PERIOD_MS),
        errorUtilizationPenalty: penalty,
      }),
    );
  },
  ring_hash: (config, field) => {
    only(config, ['minRingSize', 'maxRingSize', 'requestHashHeader'], field);
    for (const key of ['minRingSize', 'maxRingSize']) integerOption('', `${field}.${key}`, config[key], undefined, { min: 1, max: 8_388_608 });
    const header = config.requestHashHeader;
    if (header === undefined) return consistentHash();
    if (typeof header !== 'string' || header.length === 0) fail(`${field}.requestHashHeader`, 'must be a header name', header);
    return consistentHash({ header });
  },
  least_request: (config, field) => leastRequest(config, field),
  least_request_experimental: (config, field) => leastRequest(config, field),
  weightedRoundRobin: (config, field) => ours(field, () => weightedRoundRobin(config)),
  weightedRandom: (config, field) => ours(field, () => weightedRandom(config)),
  consistentHash: (config, field) => ours(field, () => consistentHash(config)),
  leastConnection: (config, field) => ours(field, () => leastConnection(config)),
  peakEwma: (config, field) => ours(field, () => peakEwma(config)),
  orcaWeighted: (config, field) => ours(field, () => orcaWeighted(config)),
  pickFirst: (config, field) => ours(field, () => pickFirst(config)),
};

/** Reads and checks a service config given as an object or JSON text; throws a TypeError naming the field. */
export function parseServiceConfig(input: unknown, where = 'serviceConfig'): ParsedServiceConfig {
  let config: unknown = input;
  if (typeof input === 'string') {
    try {
      config = JSON.parse(input);
    } catch (error) {
      throw new TypeError(`${where} is not valid JSON: ${excerpt(messageOf(error))}`);
    }
  }
  const top = object(config, where);
  only(top, TOP_FIELDS, where);
  const balancer = loadBalancing(top, where);
  const methods = new Map<string, MethodPolicy>();
  const list = top.methodConfig === undefined ? [] : array(top.methodConfig, `${where}.methodConfig`);
  list.forEach((entry, i) => methodConfig(entry, `${where}.methodConfig[${i}]`, methods));
  const retryThrottling = top.retryThrottling === undefined ? undefined : throttling(top.retryThrottling, `${where}.retryThrottling`);
  let healthCheck: { service: string } | undefined;
  if (top.healthCheckConfig !== undefined) {
    const field = `${where}.healthCheckConfig`;
    const hc = object(top.healthCheckConfig, field);
    only(hc, ['serviceName'], field);
    const name = hc.serviceName ?? '';
    if (typeof name !== 'string') fail(`${field}.serviceName`, 'must be a string (the grpc.health.v1 service name; "" for the server as a whole)', name);
    healthCheck = { service: name };
  }
  const retries = [...methods.values()].some((m) => m.retry !== undefined || m.hedge !== undefined);
  return { balancer, methods, retryThrottling, healthCheck, retries };
}

function loadBalancing(top: Record<string, unknown>, where: string): Balancer | undefined {
  if (top.loadBalancingConfig !== undefined) {
    const field = `${where}.loadBalancingConfig`;
    const list = array(top.loadBalancingConfig, field);
    const names: string[] = [];
    // As in gRPC: the first policy this client knows wins; the others may be for other clients.
    for (let i = 0; i < list.length; i++) {
      const entry = object(list[i], `${field}[${i}]`);
      const keys = Object.keys(entry);
      if (keys.length !== 1) fail(`${field}[${i}]`, 'must have exactly one key, the policy name', keys.join(', '));
      const name = keys[0];
      names.push(name);
      const factory = Object.hasOwn(POLICIES, name) ? POLICIES[name] : undefined;
      if (factory) return factory(object(entry[name], `${field}[${i}].${name}`), `${field}[${i}].${name}`);
    }
    throw new TypeError(`${field} names no policy this client knows (${names.map((n) => excerpt(n, 40)).join(', ') || 'none'}); known: ${Object.keys(POLICIES).join(', ')}`);
  }
  if (top.loadBalancingPolicy !== undefined) {
    const field = `${where}.loadBalancingPolicy`;
    const name = top.loadBalancingPolicy;
    if (typeof name !== 'string' || !Object.hasOwn(POLICIES, name)) fail(field, `must name a known policy (${Object.keys(POLICIES).join(', ')})`, name);
    return POLICIES[name]({}, field);
  }
  return undefined;
}

function methodConfig(input: unknown, field: string, methods: Map<string, MethodPolicy>): void {
  const entry = object(input, field);
  only(entry, METHOD_FIELDS, field);
  for (const key of ['maxRequestMessageBytes', 'maxResponseMessageBytes']) {
    if (entry[key] !== undefined) {
      fail(`${field}.${key}`, `is not applied per method here; set channelOptions['grpc.max_${key === 'maxRequestMessageBytes' ? 'send' : 'receive'}_message_length'] instead`, entry[key]);
    }
  }
  if (entry.retryPolicy !== undefined && entry.hedgingPolicy !== undefined) {
    throw new TypeError(`${field}: give retryPolicy or hedgingPolicy, not both (gRPC allows one per method)`);
  }
  const policy: MethodPolicy = {
    timeoutMs: entry.timeout === undefined ? undefined : duration(entry.timeout, `${field}.timeout`),
    waitForReady: booleanOption('', `${field}.waitForReady`, entry.waitForReady, undefined),
    retry: entry.retryPolicy === undefined ? undefined : retryPolicy(entry.retryPolicy, `${field}.retryPolicy`),
    hedge: entry.hedgingPolicy === undefined ? undefined : hedgingPolicy(entry.hedgingPolicy, `${field}.hedgingPolicy`),
  };
  const names = entry.name === undefined ? [{}] : array(entry.name, `${field}.name`);
  if (names.length === 0) fail(`${field}.name`, 'must list at least one name (use [{}] for every method)', names);
  names.forEach((raw, j) => {
    const nameField = `${field}.name[${j}]`;
    const name = object(raw, nameField);
    only(name, ['service', 'method'], nameField);
    const service = name.service ?? '';
    const method = name.method ?? '';
    if (typeof service !== 'string') fail(`${nameField}.service`, 'must be a string', service);
    if (typeof method !== 'string') fail(`${nameField}.method`, 'must be a string', method);
    if (method && !service) fail(`${nameField}.method`, 'needs a service beside it', method);
    const key = service ? `${service}/${method}` : '';
    if (methods.has(key)) fail(nameField, 'names methods that an earlier entry names too', `${service}/${method}`);
    methods.set(key, policy);
  });
}

function retryPolicy(input: unknown, field: string): MethodPolicy['retry'] {
  const p = object(input, field);
  only(p, RETRY_FIELDS, field);
  for (const key of RETRY_FIELDS.slice(0, 5)) if (p[key] === undefined) fail(`${field}.${key}`, 'is required', undefined);
  const initialBackoffMs = duration(p.initialBackoff, `${field}.initialBackoff`, true);
  const maxBackoffMs = duration(p.maxBackoff, `${field}.maxBackoff`, true);
  if (maxBackoffMs < initialBackoffMs) fail(`${field}.maxBackoff`, `must be at least initialBackoff (${String(p.initialBackoff)})`, p.maxBackoff);
  return {
    maxAttempts: Math.min(requiredInteger('', `${field}.maxAttempts`, p.maxAttempts, { min: 2 }), MAX_SERVICE_CONFIG_ATTEMPTS),
    initialBackoffMs,
    maxBackoffMs,
    // hedge() and retry() grow the backoff; a multiplier below 1 would shrink it.
    backoffMultiplier: requiredNumber('', `${field}.backoffMultiplier`, p.backoffMultiplier, { atLeast: 1 }),
    retryableCodes: codes(p.retryableStatusCodes, `${field}.retryableStatusCodes`, false),
    attemptTimeoutMs: p.perAttemptRecvTimeout === undefined ? undefined : duration(p.perAttemptRecvTimeout, `${field}.perAttemptRecvTimeout`, true),
  };
}

function hedgingPolicy(input: unknown, field: string): MethodPolicy['hedge'] {
  const p = object(input, field);
  only(p, HEDGE_FIELDS, field);
  if (p.maxAttempts === undefined) fail(`${field}.maxAttempts`, 'is required', undefined);
  const delay = p.hedgingDelay === undefined ? 0 : duration(p.hedgingDelay, `${field}.hedgingDelay`);
  const nonFatal = p.nonFatalStatusCodes === undefined ? [] : codes(p.nonFatalStatusCodes, `${field}.nonFatalStatusCodes`, true);
  return {
    maxAttempts: Math.min(requiredInteger('', `${field}.maxAttempts`, p.maxAttempts, { min: 2 }), MAX_SERVICE_CONFIG_ATTEMPTS),
    delayMs: delay > 0 ? delay : IMMEDIATE_HEDGE_MS,
    nonFatalCodes: nonFatal.length > 0 ? nonFatal : undefined,
  };
}

function throttling(input: unknown, field: string): { maxTokens: number; tokenRatio: number } {
  const t = object(input, field);
  only(t, ['maxTokens', 'tokenRatio'], field);
  const maxTokens = requiredNumber('', `${field}.maxTokens`, t.maxTokens, { above: 0 });
  if (maxTokens > MAX_THROTTLING_TOKENS) fail(`${field}.maxTokens`, `must be at most ${MAX_THROTTLING_TOKENS}`, maxTokens);
  return { maxTokens, tokenRatio: requiredNumber('', `${field}.tokenRatio`, t.tokenRatio, { above: 0 }) };
}

function leastRequest(config: Record<string, unknown>, field: string): Balancer {
  only(config, ['choiceCount'], field);
  // gRPC clamps choiceCount into [2, 10].
  const count = config.choiceCount === undefined ? undefined : Math.min(Math.max(requiredInteger('', `${field}.choiceCount`, config.choiceCount, { min: 1 }), 2), 10);
  return leastConnection({ choiceCount: count });
}

function ours(field: string, make: () => Balancer): Balancer {
  try {
    return make();
  } catch (error) {
    throw new TypeError(`${field}: ${messageOf(error)}`);
  }
}

/** Status codes by gRPC name ("UNAVAILABLE") or number, none of them OK. */
function codes(input: unknown, field: string, allowEmpty: boolean): Status[] {
  const list = array(input, field);
  if (list.length === 0 && !allowEmpty) fail(field, 'must list at least one status code', list);
  return list.map((raw, i) => {
    const code = typeof raw === 'string' ? STATUS_BY_NAME.get(raw.toUpperCase()) : raw;
    if (typeof code !== 'number' || !Number.isInteger(code) || Status[code] === undefined || code === Status.OK) {
      fail(`${field}[${i}]`, 'must be a failing gRPC status code, by name ("UNAVAILABLE") or number', raw);
    }
    return code;
  });
}

const DURATION = /^(\d{1,12})(?:\.(\d{1,9}))?s$/;

/** gRPC status codes by name ("UNAVAILABLE"), as service configs may list them. */
const STATUS_BY_NAME: ReadonlyMap<string, Status> = new Map(
  Object.entries(Status).filter((entry): entry is [string, Status] => typeof entry[1] === 'number'),
);

/** A protobuf JSON duration ("1.5s") in ms, within what a timer can hold. */
function duration(input: unknown, field: string, positive = false): number {
  const match = typeof input === 'string' ? DURATION.exec(input) : null;
  if (!match) fail(field, 'must be a duration like "0.5s" or "10s"', input);
  const ms = Number(match[1]) * 1000 + Number(`0.${match[2] ?? '0'}`) * 1000;
  if (ms > MAX_TIMER_MS) fail(field, `must be at most ${MAX_TIMER_MS / 1000}s`, input);
  if (positive && ms <= 0) fail(field, 'must be greater than 0s', input);
  return ms;
}

function isRecord(input: unknown): input is Record<string, unknown> {
  return input !== null && typeof input === 'object' && !Array.isArray(input);
}

function object(input: unknown, field: string): Record<string, unknown> {
  if (!isRecord(input)) fail(field, 'must be an object', input);
  return input;
}

function array(input: unknown, field: string): unknown[] {
  if (!Array.isArray(input)) fail(field, 'must be an array', input);
  return input;
}

function only(input: Record<string, unknown>, known: readonly string[], field: string): void {
  for (const key of Object.keys(input)) {
    if (!known.includes(key)) {
      throw new TypeError(`${field}: unknown field ${excerpt(key, 60)}${known.length ? ` (known: ${known.join(', ')})` : ' (takes no fields)'}`);
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function fail(field: string, problem: string, value: unknown): never {
  throw new TypeError(`${field} ${problem}, got ${describeValue(value)}`);
}
