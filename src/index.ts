// The public API. Everything users and integrations import comes from here.

export {
  createClient,
  DEFAULT_PICK_TIMEOUT_MS,
  type ClientOptions,
  type LbCallOptions,
  type AsyncCallOptions,
  type AsyncClient,
  type AsyncMethod,
  type LoadBalancedClient,
  type LoadBalancedClientBase,
  type Stub,
} from './client/create-client';
export { CallContext, type CallType } from './client/context';
export {
  ClientEndpoint,
  DEFAULT_CONNECT_TIMEOUT_MS,
  LATENCY_DECAY_MS,
  LATENCY_RISE_MS,
  isEndpointFailure,
  type EndpointInfo,
  type EndpointState,
} from './client/endpoint';
export type { EndpointSetObserver } from './client/endpoint-set';
export type { MethodConfig, ServiceConfig } from './client/service-config';
export type { ClientView } from './client/view';
export { silentLogger, type Logger } from './client/logger';
export { serviceError } from './client/calls';
export {
  startHealthChecking,
  DEFAULT_HEALTH_CHECK_INTERVAL_MS,
  DEFAULT_HEALTH_CHECK_TIMEOUT_MS,
  type HealthCheckOptions,
} from './client/health-check';

export * from './balancer';
export * from './middleware';
export * from './resolver';
export * from './registry';
