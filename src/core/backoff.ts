import { durationOption } from './duration';

/** Exponential backoff bounds: the first delay, and the cap it doubles up to. */
export interface BackoffBounds {
  readonly initialMs: number;
  readonly maxMs: number;
}

/**
 * The delay before retry number `failures` (1 for the first): doubling from `initialMs` up to
 * `maxMs`, jittered between half and all of it so that clients failing together do not retry
 * together.
 */
export function backoffDelay(failures: number, bounds: BackoffBounds, random: () => number): number {
  const delay = Math.min(bounds.maxMs, bounds.initialMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
  return delay / 2 + (delay / 2) * random();
}

/** A `backoff: { initialMs, maxMs }` option, checked; the error names `where` and the field. */
export function backoffOption(where: string, value: unknown, defaults: BackoffBounds): BackoffBounds {
  if (value === undefined) return defaults;
  if (value === null || typeof value !== 'object') throw new TypeError(`${where}: backoff must be an object with initialMs/maxMs`);
  const given = value as { initialMs?: unknown; maxMs?: unknown };
  const initialMs = durationOption(where, 'backoff.initialMs', given.initialMs, defaults.initialMs, { min: 1 });
  const maxMs = durationOption(where, 'backoff.maxMs', given.maxMs, Math.max(defaults.maxMs, initialMs), { min: 1 });
  if (maxMs < initialMs) throw new RangeError(`${where}: backoff.maxMs must be >= backoff.initialMs`);
  return { initialMs, maxMs };
}
