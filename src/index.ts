export type { Endpoint, Balancer, Picker, PickInfo } from './balancer/types';
export type { Instance, Resolver, ResolverListener } from './resolver/types';
export type { Middleware, Next } from './middleware/types';
export { CallContext, type CallType } from './client/context';
export { compose } from './middleware/compose';
export {
  parseTarget,
  registerResolverScheme,
  formatAddress,
  parseAddress,
  staticResolver,
  memoryResolver,
  sharedMemoryResolver,
  consulResolver,
  ConsulError,
  isConsulError,
  dnsResolver,
  DnsError,
  isDnsError,
  type ParsedTarget,
  type ResolvedTarget,
  type ResolverScheme,
  type HostPort,
  type MemoryResolver,
  type ConsulConnectionOptions,
  type ConsulResolverOptions,
  type ConsulTlsOptions,
  type DnsErrorCode,
  type DnsFamily,
  type DnsResolver,
  type DnsResolverOptions,
} from './resolver';
export * from './registry';
export {
  createClient,
  DEFAULT_PICK_TIMEOUT_MS,
  type ClientOptions,
  type LbCallOptions,
  type AsyncCallOptions,
  type AsyncClient,
  type LoadBalancedClient,
  type LoadBalancedClientBase,
  type Stub,
} from './client/create-client';
export { ClientEndpoint, DEFAULT_CONNECT_TIMEOUT_MS, isEndpointFailure, type EndpointInfo, type EndpointState } from './client/endpoint';
export type { EndpointSetObserver } from './client/endpoint-set';
export { silentLogger, type Logger } from './client/logger';
export { serviceError } from './client/calls';
export type { ClientView } from './client/view';
export {
  weightedRoundRobin,
  weightedRandom,
  consistentHash,
  leastConnection,
  peakEwma,
  type WeightedRoundRobinOptions,
  type WeightedRandomOptions,
  type ConsistentHashOptions,
  type LeastConnectionOptions,
  type PeakEwmaOptions,
} from './balancer';
export {
  metrics,
  grpcCodeLabel,
  redactTarget,
  DEFAULT_HANDLING_SECONDS_BUCKETS,
  METRIC_NAMES,
  ENDPOINT_STATES,
  type MetricsOptions,
  type MetricsMiddleware,
  type BreakerSource,
  type CodeClass,
  type EndpointStateLabel,
} from './middleware/metrics';
export {
  startHealthChecking,
  DEFAULT_HEALTH_CHECK_INTERVAL_MS,
  DEFAULT_HEALTH_CHECK_TIMEOUT_MS,
  type HealthCheckOptions,
} from './client/health-check';
