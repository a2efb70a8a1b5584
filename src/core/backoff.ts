import { durationOption } from './duration';

// The one backoff of the library: how long a loop waits after a failure before it tries again.
// Resolvers and registries retry their registry, endpoints reconnect, health watches reopen, the
// retry middleware spaces its attempts; each is this formula with its own figures.

/**
 * How the delay is drawn around its exponential cap:
 * - 'equal': between half and all of the cap (the default; never retries at once);
 * - 'full': anywhere in [0, cap) (gRPC A6's choice for retries: fewest collisions);
 * - a number j in [0, 1): the cap times 1 ± j (gRPC's connection backoff uses 0.2).
 */
export type BackoffJitter = 'equal' | 'full' | number;

export interface BackoffOptions {
  /** Delay after the first failure, in ms. */
  readonly initialMs: number;
  /** Cap on the delay, in ms. */
  readonly maxMs: number;
  /** Growth of the delay per failure. Default 2. */
  readonly multiplier?: number;
  /** Default 'equal'. */
  readonly jitter?: BackoffJitter;
}

/** Exponents above this change nothing: any multiplier ≥ 1.5 has passed any cap by then. */
const MAX_EXPONENT = 60;

/**
 * The delay before retry number `failures` (1 after the first failure): `initialMs` grown by
 * `multiplier` per failure up to `maxMs`, then jittered so that many clients that failed together
 * do not retry together. Allocates nothing.
 */
export function backoffDelay(failures: number, options: BackoffOptions, random: () => number = Math.random): number {
  const exponent = failures <= 1 ? 0 : failures - 1 < MAX_EXPONENT ? failures - 1 : MAX_EXPONENT;
  const grown = options.initialMs * (options.multiplier ?? 2) ** exponent;
  const cap = grown < options.maxMs ? grown : options.maxMs;
  const jitter = options.jitter ?? 'equal';
  if (jitter === 'equal') return cap / 2 + (cap / 2) * random();
  if (jitter === 'full') return cap * random();
  return cap * (1 + jitter * (2 * random() - 1));
}

/** A `backoff: { initialMs, maxMs }` option, checked; the error names `where` and the field. */
export function backoffOption(where: string, value: unknown, defaults: BackoffOptions): BackoffOptions {
  if (value === undefined) return defaults;
  if (value === null || typeof value !== 'object') throw new TypeError(`${where}: backoff must be an object with initialMs/maxMs`);
  const given = value as { initialMs?: unknown; maxMs?: unknown };
  const initialMs = durationOption(where, 'backoff.initialMs', given.initialMs, defaults.initialMs, { min: 1 });
  const maxMs = durationOption(where, 'backoff.maxMs', given.maxMs, Math.max(defaults.maxMs, initialMs), { min: 1 });
  if (maxMs < initialMs) throw new RangeError(`${where}: backoff.maxMs must be >= backoff.initialMs`);
  return { ...defaults, initialMs, maxMs };
}
