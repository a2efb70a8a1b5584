// The order the library's own middleware must take in a chain, checked where the chain is built.
// Each middleware that has a place declares its kind (core/middleware-kind); compose() refuses a list in which one kind
// sits inside another that it must wrap, naming both and why. Middleware of no declared kind
// (the user's own) may go anywhere.

import { kindOf, type MiddlewareKind } from '../core/middleware-kind';

interface Rule {
  readonly outer: MiddlewareKind;
  readonly inner: MiddlewareKind;
  readonly why: string;
}

const SENDERS: readonly MiddlewareKind[] = ['retry', 'hedge'];

/** Every pair with a required order: `outer` must come earlier in the list than `inner`. */
const RULES: readonly Rule[] = [
  ...SENDERS.flatMap((sender): Rule[] => [
    { outer: 'call-metrics', inner: sender, why: 'metrics() counts calls as the caller sees them, retries included' },
    { outer: 'timeout', inner: sender, why: "the call's deadline must bound every attempt, backoff and hedge" },
    { outer: 'service-breaker', inner: sender, why: 'the service breaker judges calls after their retries, and a call it refuses must not be retried' },
    { outer: sender, inner: 'endpoint-breaker', why: 'the endpoint breaker must see every attempt and the endpoint it went to' },
    { outer: sender, inner: 'attempt-metrics', why: 'metrics().attempts counts every attempt' },
  ]),
  { outer: 'retry', inner: 'hedge', why: 'with both, retry goes outside hedge' },
];

/**
 * Throws a TypeError naming the first pair of `middleware` (outermost first) in the wrong order.
 * Runs once per chain built, never per call.
 */
export function checkOrder(middleware: readonly unknown[], where = 'middleware'): void {
  for (let i = 0; i < middleware.length; i++) {
    const inner = kindOf(middleware[i]);
    if (inner === undefined) continue;
    for (let j = i + 1; j < middleware.length; j++) {
      const outer = kindOf(middleware[j]);
      const rule = outer && RULES.find((r) => r.outer === outer && r.inner === inner);
      if (rule) {
        throw new TypeError(
          `${where}[${i}] (${inner}) comes before ${where}[${j}] (${outer}), but ${outer} must be outside ${inner}: ${rule.why}; ` +
            `put ${where}[${j}] earlier in the list`,
        );
      }
    }
  }
}
