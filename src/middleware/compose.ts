import { checkOrder } from './order';
import type { Middleware, Next } from '../core/middleware';

/**
 * Chains middleware around `terminal`. The first in the list is the outermost: it sees the call
 * first and its outcome last, as in Kitex and as one reads the list. The library's own
 * middleware must keep their order (see order.ts: timeout and the service breaker outside
 * retry and hedge, the endpoint breaker and metrics().attempts inside them); a list that breaks
 * it is refused here, naming the pair.
 */
export function compose(middleware: readonly Middleware[], terminal: Next): Next {
  checkOrder(middleware);
  let next = terminal;
  for (let i = middleware.length - 1; i >= 0; i--) {
    const wrap = middleware[i];
    if (typeof wrap !== 'function') throw new TypeError(`middleware[${i}] must be a function (next) => (ctx) => Promise<void>`);
    next = wrap(next);
    if (typeof next !== 'function') throw new TypeError(`middleware[${i}] returned ${typeof next}, expected a function (ctx) => Promise<void>`);
  }
  return next;
}
