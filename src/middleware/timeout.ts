import { booleanOption, checkOptionsObject, positiveDurationOption } from '../core/options';
import { declareKind } from '../core/middleware-kind';
import type { Middleware, Next } from '../core/middleware';

export interface TimeoutOptions {
  /**
   * Also bound streaming calls. Default false: a stream lives as long as its use (a watch, a
   * chat), which a latency budget for calls would cut short.
   */
  streams?: boolean;
}

/**
 * A deadline for the whole call, retries, backoff and hedges included: `ms` after the call
 * started. It only ever tightens the deadline; a caller's earlier deadline stands. For a limit
 * on each attempt, see retry's `attemptTimeoutMs`.
 */
export function timeout(ms: number, options: TimeoutOptions = {}): Middleware {
  // Required: an absent `ms` is checked as null, which no duration is. A finite one must fit a
  // timer, as grpc-js and any waiting below arm timers from the deadline.
  if (ms !== Infinity) positiveDurationOption('timeout(ms)', 'ms', ms ?? null, 0);
  checkOptionsObject('timeout', options, false);
  const streams = booleanOption('timeout', 'options.streams', options.streams, false);
  if (ms === Infinity) return declareKind((next: Next) => next, 'timeout');
  return declareKind<Middleware>((next) => (ctx) => {
    if (streams || ctx.type === 'unary') {
      // From the call's start rather than from now: time spent in middleware before this one
      // (queues, rate limiters) is part of what the caller waits for.
      const deadline = ctx.startedAt + ms;
      if (deadline < ctx.deadline) ctx.deadline = deadline;
    }
    return next(ctx);
  }, 'timeout');
}
