import { durationOption } from './duration';

// Exponential backoff with jitter, for loops that retry a registry or a connection after a failure.

export interface BackoffOptions {
  /** Delay after the first failure, in ms. */
  readonly initialMs: number;
  /** Cap on the delay, in ms. */
  readonly maxMs: number;
}

/**
 * The delay before retry number `failures` (1 after the first failure): doubling from `initialMs`
 * up to `maxMs`, drawn between half and all of that so that many clients that failed together do
 * not retry together.
 */
export function backoffDelay(failures: number, options: BackoffOptions, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  const delay = Math.min(options.maxMs, options.initialMs * 2 ** exponent);
  return delay / 2 + (delay / 2) * random();
}

/** A `backoff: { initialMs, maxMs }` option, checked; the error names `where` and the field. */
export function backoffOption(where: string, value: unknown, defaults: BackoffOptions): BackoffOptions {
  if (value === undefined) return defaults;
  if (value === null || typeof value !== 'object') throw new TypeError(`${where}: backoff must be an object with initialMs/maxMs`);
  const given = value as { initialMs?: unknown; maxMs?: unknown };
  const initialMs = durationOption(where, 'backoff.initialMs', given.initialMs, defaults.initialMs, { min: 1 });
  const maxMs = durationOption(where, 'backoff.maxMs', given.maxMs, Math.max(defaults.maxMs, initialMs), { min: 1 });
  if (maxMs < initialMs) throw new RangeError(`${where}: backoff.maxMs must be >= backoff.initialMs`);
  return { initialMs, maxMs };
}
