// The names and label values of the metrics series: the contract dashboards and alert rules are
// written against, in one place.

import { status as Status } from '@grpc/grpc-js';
import type { CallType } from '../../core/context';

/**
 * Prometheus's default buckets, which go-grpc-prometheus uses too: latency dashboards made for
 * Go services read Node services the same way.
 */
export const DEFAULT_HANDLING_SECONDS_BUCKETS: readonly number[] = Object.freeze([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);

/** Series names, for queries, dashboards and tests. */
export const METRIC_NAMES = Object.freeze({
  started: 'grpc_client_started_total',
  handled: 'grpc_client_handled_total',
  handlingSeconds: 'grpc_client_handling_seconds',
  msgReceived: 'grpc_client_msg_received_total',
  msgSent: 'grpc_client_msg_sent_total',
  attempts: 'grpc_lb_attempts_total',
  endpointCalls: 'grpc_lb_endpoint_calls_total',
  pickFailures: 'grpc_lb_pick_failures_total',
  endpoints: 'grpc_lb_endpoints',
  resolverUpdates: 'grpc_lb_resolver_updates_total',
  resolverErrors: 'grpc_lb_resolver_errors_total',
  resolutionAge: 'grpc_lb_resolution_age_seconds',
  clients: 'grpc_lb_clients',
  breakerTransitions: 'grpc_lb_breaker_transitions_total',
  breakers: 'grpc_lb_breakers',
});

export type SeriesKey = keyof typeof METRIC_NAMES;
export type SeriesType = 'counter' | 'gauge' | 'histogram';

/** One series family as registered: its type, help text and label names. */
export interface SeriesDefinition {
  readonly name: string;
  readonly type: SeriesType;
  readonly help: string;
  readonly labelNames: readonly string[];
}

const CALL = ['grpc_type', 'grpc_service', 'grpc_method'] as const;

function define(key: SeriesKey, type: SeriesType, labelNames: readonly string[], help: string): SeriesDefinition {
  return Object.freeze({ name: METRIC_NAMES[key], type, help, labelNames: Object.freeze([...labelNames]) });
}

/** Every series this library registers. */
export const SERIES = Object.freeze({
  started: define('started', 'counter', CALL, 'Total number of RPCs started on the client.'),
  handled: define('handled', 'counter', [...CALL, 'grpc_code'], 'Total number of RPCs completed by the client, regardless of success or failure.'),
  handlingSeconds: define('handlingSeconds', 'histogram', CALL, 'Histogram of response latency (seconds) of the gRPC until it is finished by the application.'),
  msgReceived: define('msgReceived', 'counter', CALL, 'Total number of RPC stream messages received by the client.'),
  msgSent: define('msgSent', 'counter', CALL, 'Total number of gRPC stream messages sent by the client.'),
  attempts: define(
    'attempts',
    'counter',
    [...CALL, 'attempt'],
    'Attempts sent for RPCs: attempt="first" once per call, "retry_or_hedge" for every further attempt of retries and hedging.',
  ),
  endpointCalls: define(
    'endpointCalls',
    'counter',
    ['lb_service', 'address', 'code_class'],
    'Attempts finished on each endpoint, by outcome class: ok, endpoint_error (the codes that count against the endpoint) or other_error.',
  ),
  pickFailures: define(
    'pickFailures',
    'counter',
    ['lb_service', 'grpc_code'],
    'Attempts that reached no endpoint (none available, or refused before one was picked), by the code they failed with.',
  ),
  endpoints: define(
    'endpoints',
    'gauge',
    ['lb_service', 'state'],
    'Endpoints by state; only "ready" ones are picked. Precedence: draining, the connection state, ejected (circuit breaker), not_serving (health check).',
  ),
  resolverUpdates: define('resolverUpdates', 'counter', ['lb_service'], 'Instance lists applied from the resolver.'),
  resolverErrors: define('resolverErrors', 'counter', ['lb_service'], 'Resolver errors and unusable answers; the last good instance list is kept through them.'),
  resolutionAge: define(
    'resolutionAge',
    'gauge',
    ['lb_service'],
    'Seconds since the resolver last gave a usable instance list (+Inf before the first); the oldest among clients of the service.',
  ),
  clients: define('clients', 'gauge', ['lb_service', 'target'], 'Open load-balanced clients, by service and target (without credentials or query).'),
  breakerTransitions: define(
    'breakerTransitions',
    'counter',
    ['lb_service', 'scope', 'from', 'to'],
    'Circuit breaker state changes, by scope (endpoint or service) and the states left and entered.',
  ),
  breakers: define('breakers', 'gauge', ['lb_service', 'scope', 'state'], 'Circuit breakers by scope and state.'),
} satisfies Record<SeriesKey, SeriesDefinition>);

/** Breaker states, all present in grpc_lb_breakers (zeros included) for every scope in use. */
export const BREAKER_STATES = Object.freeze(['closed', 'open', 'half_open'] as const);

/**
 * Why an endpoint is (or is not) in the picker, one state per endpoint. The order is the order of
 * precedence: a draining endpoint is leaving whatever else is true of it, a broken connection
 * makes its breaker and health state moot.
 */
export const ENDPOINT_STATES = Object.freeze(['draining', 'idle', 'connecting', 'transient_failure', 'ejected', 'not_serving', 'ready'] as const);
export type EndpointStateLabel = (typeof ENDPOINT_STATES)[number];

/**
 * grpc_code values are Go's names of the codes ("OK", "Unavailable", "DeadlineExceeded"), which
 * go-grpc-prometheus and java-grpc-prometheus emit: alert rules and dashboards written for those
 * (`grpc_code!="OK"`, `grpc_code=~"Unavailable|DeadlineExceeded"`) work unchanged, and a fleet
 * mixing Go and Node clients aggregates one series per code instead of two spellings.
 */
export const CODE_NAMES: readonly string[] = Object.freeze([
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
]);

/** The grpc_code label value of a status code. */
export function grpcCodeLabel(code: number): string {
  return CODE_NAMES[code] ?? `Code(${code})`;
}

/**
 * The code a call or attempt ended with, as an index into CODE_NAMES. A call that ended without
 * a status (a middleware threw) is reported INTERNAL by the client; grpc-js maps codes it does not
 * know to UNKNOWN, and so does this, to keep the per-code cells fixed.
 */
export function codeOf(ctx: { readonly status?: { readonly code: number } }): number {
  const code = ctx.status?.code ?? Status.INTERNAL;
  return code >= 0 && code < CODE_NAMES.length ? code : Status.UNKNOWN;
}

/**
 * Outcome classes of per-endpoint series: `endpoint_error` holds the codes that count against
 * the endpoint (as the endpoint's own failure stats count them), `other_error` those that say
 * something about the request or the caller (CANCELLED, INVALID_ARGUMENT, NOT_FOUND …).
 */
export type CodeClass = 'ok' | 'endpoint_error' | 'other_error';

export type Labels = Record<string, string>;

/** The call-level labels of a method: '/pkg.Service/Method', split as go-grpc-prometheus splits it. */
export function methodLabels(type: CallType, path: string): Labels {
  const bare = path.startsWith('/') ? path.slice(1) : path;
  const slash = bare.indexOf('/');
  return {
    grpc_type: type,
    grpc_service: slash >= 0 ? bare.slice(0, slash) : 'unknown',
    grpc_method: slash >= 0 ? bare.slice(slash + 1) : 'unknown',
  };
}

/** A target as a label value: without userinfo, query or fragment, where credentials and tokens hide. */
export function redactTarget(target: string): string {
  const cut = target.search(/[?#]/);
  const bare = cut >= 0 ? target.slice(0, cut) : target;
  return bare.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1');
}
