// The one family of option checks. Every factory (createClient, balancers, middleware, resolvers,
// registries) checks what it is given with these, so every bad option reads the same way:
// "<where>: <field> must be <what>, got <the value, bounded and escaped>". `field` is printed as
// given ("options.maxAttempts", "backoff.initialMs", "ms"); a `where` of '' leaves the field alone,
// for a document whose fields are named by their whole path ("serviceConfig.retryThrottling.maxTokens").
// The `required…` forms are for fields that must be given: absent fails like any wrong value.

import { durationOption, MAX_TIMER_MS } from './duration';
import { describeValue } from './text';

export { durationOption, MAX_TIMER_MS };

type AnyFunction = (...args: never[]) => unknown;

function fail(where: string, field: string, what: string, value: unknown): never {
  throw new TypeError(`${where ? `${where}: ` : ''}${field} must be ${what}, got ${describeValue(value)}`);
}

/** Throws unless `options` is an object (not null, not an array); undefined passes when `optional`. */
export function checkOptionsObject(where: string, options: unknown, optional = true): void {
  if (optional && options === undefined) return;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) fail(where, 'options', 'an object', options);
}

/** A boolean, or `fallback` when absent. */
export function booleanOption<F extends boolean | undefined>(where: string, field: string, value: unknown, fallback: F): boolean | F {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail(where, field, 'a boolean', value);
  return value;
}

export interface IntegerRange {
  readonly min: number;
  /** Default Number.MAX_SAFE_INTEGER. */
  readonly max?: number;
}

/** A safe integer within [min, max], or `fallback` when absent. */
export function integerOption<F extends number | undefined>(where: string, field: string, value: unknown, fallback: F, range: IntegerRange): number | F {
  if (value === undefined) return fallback;
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < range.min || value > max) {
    fail(where, field, integerWhat(range), value);
  }
  return value;
}

/** As integerOption, for a field that must be given. */
export function requiredInteger(where: string, field: string, value: unknown, range: IntegerRange): number {
  if (value === undefined) fail(where, field, integerWhat(range), value);
  return integerOption(where, field, value, 0, range);
}

function integerWhat(range: IntegerRange): string {
  return range.max === undefined ? `an integer >= ${range.min}` : `an integer from ${range.min} to ${range.max}`;
}

/** Bounds of a number option; an open bound excludes its value. */
export interface NumberRange {
  readonly above?: number;
  readonly atLeast?: number;
  readonly below?: number;
  readonly atMost?: number;
}

/** A finite number within `range`, or `fallback` when absent. */
export function numberOption<F extends number | undefined>(where: string, field: string, value: unknown, fallback: F, range: NumberRange = {}): number | F {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || !inRange(value, range)) fail(where, field, numberWhat(range), value);
  return value;
}

/** As numberOption, for a field that must be given. */
export function requiredNumber(where: string, field: string, value: unknown, range: NumberRange = {}): number {
  if (value === undefined) fail(where, field, numberWhat(range), value);
  return numberOption(where, field, value, 0, range);
}

function inRange(value: number, r: NumberRange): boolean {
  return (
    (r.above === undefined || value > r.above) &&
    (r.atLeast === undefined || value >= r.atLeast) &&
    (r.below === undefined || value < r.below) &&
    (r.atMost === undefined || value <= r.atMost)
  );
}

function numberWhat(r: NumberRange): string {
  const low = r.above !== undefined ? `(${r.above}` : r.atLeast !== undefined ? `[${r.atLeast}` : undefined;
  const high = r.below !== undefined ? `${r.below})` : r.atMost !== undefined ? `${r.atMost}]` : undefined;
  if (low && high) return `a number in ${low}, ${high}`;
  if (r.above !== undefined) return `a finite number > ${r.above}`;
  if (r.atLeast !== undefined) return `a finite number >= ${r.atLeast}`;
  if (r.below !== undefined) return `a finite number < ${r.below}`;
  if (r.atMost !== undefined) return `a finite number <= ${r.atMost}`;
  return 'a finite number';
}

/**
 * A duration in ms that must be > 0 (or >= 0 with `allowZero`): first checked as a number, then
 * against the longest delay a Node timer honours, so an oversized value is an error and never a
 * 1 ms timer.
 */
export function positiveDurationOption(where: string, field: string, value: unknown, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  const ms = numberOption(where, field, value, fallback, allowZero ? { atLeast: 0 } : { above: 0 });
  return durationOption(where, field, ms, fallback, { min: 0 });
}

/** A function, or `fallback` when absent. */
export function functionOption<F extends AnyFunction>(where: string, field: string, value: F | undefined, fallback: F): F;
export function functionOption<F extends AnyFunction>(where: string, field: string, value: F | undefined, fallback?: F): F | undefined;
export function functionOption<F extends AnyFunction>(where: string, field: string, value: F | undefined, fallback?: F): F | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'function') fail(where, field, 'a function', value);
  return value;
}

/** One of `choices`, or `fallback` when absent. */
export function oneOfOption<T extends string>(where: string, field: string, value: unknown, fallback: T, choices: readonly T[]): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    const names = choices.map((c) => `'${c}'`);
    const what = names.length === 2 ? `${names[0]} or ${names[1]}` : `one of ${names.join(', ')}`;
    fail(where, field, what, value);
  }
  return value as T;
}

const CONTROL_CHARACTERS = /[\u0000-\u001f]/;

/**
 * A string that says something (not empty, not blank), or `fallback` when absent; with
 * `singleLine`, also free of control characters (a value that ends up in keys, URLs and log lines).
 */
export function stringOption<F extends string | undefined>(where: string, field: string, value: unknown, fallback: F, singleLine = false): string | F {
  if (value === undefined) return fallback;
  return requiredString(where, field, value, singleLine);
}

/** As stringOption, for a field that must be given: absent fails like any other wrong value. */
export function requiredString(where: string, field: string, value: unknown, singleLine = false): string {
  if (typeof value !== 'string' || value.trim().length === 0 || (singleLine && CONTROL_CHARACTERS.test(value))) {
    fail(where, field, `a non-empty ${singleLine ? 'single-line ' : ''}string`, value);
  }
  return value;
}
