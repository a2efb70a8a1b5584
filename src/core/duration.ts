// Durations given in options end up in setTimeout. Node turns any delay above 2^31−1 ms (or
// below 1, or NaN) into 1 ms, so an oversized duration silently becomes a 1 ms timer: every
// connect "times out", every watch spins. Each duration option is checked against this bound.

import { describeValue } from './text';

/** The longest delay a Node timer honours: 2^31−1 ms, about 24.8 days. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface DurationBounds {
  /** Smallest accepted value (inclusive). Default 0. */
  min?: number;
  /** Largest accepted value (inclusive). Default MAX_TIMER_MS. */
  max?: number;
  /** Whether 0 itself is accepted when min > 0 (e.g. "0 disables"). Default false. */
  allowZero?: boolean;
}

/**
 * A duration option in milliseconds, checked: a finite number within [min, max] (max at most
 * MAX_TIMER_MS), or `fallback` when absent. The error names the option (`where`.`field`) and
 * the bounds.
 */
export function durationOption(where: string, field: string, value: unknown, fallback: number, bounds: DurationBounds = {}): number {
  if (value === undefined) return fallback;
  const min = bounds.min ?? 0;
  const max = Math.min(bounds.max ?? MAX_TIMER_MS, MAX_TIMER_MS);
  if (typeof value === 'number' && value === 0 && bounds.allowZero) return 0;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new RangeError(`${where}: ${field} must be a duration in ms from ${min} to ${max}${bounds.allowZero && min > 0 ? ' (or 0)' : ''}, got ${describeValue(value)}`);
  }
  return value;
}

/** A delay safe to hand to setTimeout: clamped into [0, MAX_TIMER_MS]. */
export function timerDelay(ms: number): number {
  return ms > MAX_TIMER_MS ? MAX_TIMER_MS : ms > 0 ? ms : 0;
}
