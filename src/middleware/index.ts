export type { Middleware, Next } from './types';
export { compose } from './compose';
export { timeout, type TimeoutOptions } from './timeout';
export {
  retry,
  DEFAULT_RETRY_MAX_ATTEMPTS,
  DEFAULT_RETRYABLE_CODES,
  DEFAULT_INITIAL_BACKOFF_MS,
  DEFAULT_MAX_BACKOFF_MS,
  DEFAULT_BACKOFF_MULTIPLIER,
  DEFAULT_JITTER,
  type RetryOptions,
  type RetryEvent,
  type Jitter,
} from './retry';
export {
  hedge,
  DEFAULT_HEDGE_DELAY_MS,
  DEFAULT_HEDGE_MAX_ATTEMPTS,
  DEFAULT_NON_FATAL_CODES,
  type HedgeOptions,
  type HedgeEvent,
  type HedgeReason,
} from './hedge';
export {
  retryBudget,
  TokenBucketBudget,
  DEFAULT_MAX_TOKENS,
  DEFAULT_TOKEN_RATIO,
  DEFAULT_MIN_ATTEMPT_MS,
  PUSHBACK_KEY,
  PREVIOUS_ATTEMPTS_KEY,
  type RetryBudget,
  type RetryBudgetOptions,
  type Timers,
} from './budget';
export {
  circuitBreaker,
  DEFAULT_BREAKER_SCOPE,
  DEFAULT_ERROR_RATE,
  DEFAULT_MIN_SAMPLES,
  DEFAULT_WINDOW_MS,
  DEFAULT_BUCKETS,
  DEFAULT_CONSECUTIVE_FAILURES,
  DEFAULT_OPEN_MS,
  DEFAULT_HALF_OPEN_PROBES,
  DEFAULT_MAX_EJECTION_SHARE,
  DEFAULT_FAILURE_CODES,
  type CircuitBreaker,
  type CircuitBreakerOptions,
  type BreakerScope,
  type BreakerState,
  type BreakerStateChange,
  type BreakerSnapshot,
  type BreakerListener,
} from './circuit-breaker';
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
} from './metrics';
