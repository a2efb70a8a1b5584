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
