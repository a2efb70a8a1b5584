// Prometheus metrics of clients: the middleware and the names of its series. The parts live in
// ./metrics/, one concern per file.

export { metrics, type MetricsOptions, type MetricsMiddleware } from './metrics/middleware';
export type { BreakerSource } from './metrics/breakers';
export {
  METRIC_NAMES,
  DEFAULT_HANDLING_SECONDS_BUCKETS,
  ENDPOINT_STATES,
  grpcCodeLabel,
  redactTarget,
  type CodeClass,
  type EndpointStateLabel,
} from './metrics/names';
