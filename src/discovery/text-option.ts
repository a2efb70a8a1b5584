import { describeValue } from '../core/text';

// A member of the core/options family that core/options does not have yet: a name-like string
// (a service name, an id, a tag, a user name) that must say something. Same message shape as the
// family: "<where>: <field> must be <what>, got <value>".

const CONTROL_CHARACTERS = /[\u0000-\u001f]/;

/**
 * A string that is not empty or blank, or `fallback` when absent; with `singleLine`, also free of
 * control characters (a value that ends up in keys, URLs and log lines).
 */
export function textOption<F extends string | undefined>(where: string, field: string, value: unknown, fallback: F, singleLine = false): string | F {
  if (value === undefined) return fallback;
  return requiredText(where, field, value, singleLine);
}

/** As textOption, for a field that must be given: absent fails like any other wrong value. */
export function requiredText(where: string, field: string, value: unknown, singleLine = false): string {
  if (typeof value !== 'string' || value.trim().length === 0 || (singleLine && CONTROL_CHARACTERS.test(value))) {
    throw new TypeError(`${where}: ${field} must be a non-empty ${singleLine ? 'single-line ' : ''}string, got ${describeValue(value)}`);
  }
  return value;
}
