// The public API: what users import from 'grpc-lb-kit'. Defaults are documented on the options
// they belong to; internals are not reachable from outside the package (see "exports").

// Client
export {
  createClient,
  type ClientOptions,
  type LbCallOptions,
  type AsyncCallOptions,
  type AsyncClient,
  type AsyncMethod,
  type LoadBalancedClient,
  type LoadBalancedClientBase,
  type Stub,
} from './client/create-client';
export { CallContext, type CallType } from './core/context';
export { ClientEndpoint } from './client/endpoint';
export { type EndpointInfo, type EndpointState } from './core/endpoint';
export { isEndpointFailure } from './core/status';
export type { EndpointSetObserver } from './client/endpoint-set';
export type { MethodConfig, ServiceConfig } from './client/service-config';
export type { ClientControl, ClientView, ClientViewObserver, EndpointChannels, EndpointEjection, EndpointView } from './core/view';
export { silentLogger, type Logger } from './core/logger';
export { serviceError } from './client/calls';
export type { HealthCheckOptions } from './client/health-check';

// Balancers
export * from './balancer';

// Middleware
export type { Middleware, Next } from './core/middleware';
export { compose } from './middleware/compose';
export { timeout, type TimeoutOptions } from './middleware/timeout';
export { retry, type RetryOptions, type RetryEvent, type Jitter } from './middleware/retry';
export { hedge, type HedgeOptions, type HedgeEvent, type HedgeReason } from './middleware/hedge';
export { retryBudget, TokenBucketBudget, type RetryBudget, type RetryBudgetOptions, type Timers } from './middleware/budget';
export {
  circuitBreaker,
  type CircuitBreaker,
  type CircuitBreakerOptions,
  type BreakerScope,
  type BreakerState,
  type BreakerStateChange,
  type BreakerSnapshot,
  type BreakerListener,
} from './middleware/circuit-breaker';
export {
  metrics,
  METRIC_NAMES,
  type MetricsOptions,
  type MetricsMiddleware,
  type BreakerSource,
  type CodeClass,
  type EndpointStateLabel,
} from './middleware/metrics';

// Discovery and registration
export * from './resolver';
export * from './registry';
