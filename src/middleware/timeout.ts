import { durationOption } from '../core/duration';
import { describeValue } from '../core/text';
import type { Middleware } from './types';

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
  if (typeof ms !== 'number' || !(ms > 0)) throw new TypeError(`timeout(ms): ms must be a number > 0 (milliseconds), got ${describeValue(ms)}`);
  if (options === null || typeof options !== 'object') throw new TypeError('timeout: options must be an object');
  const streams = options.streams ?? false;
  if (typeof streams !== 'boolean') throw new TypeError(`timeout: options.streams must be a boolean, got ${typeof streams}`);
  if (ms === Infinity) return (next) => next;
  // A finite timeout must fit a timer: grpc-js and any waiting below arm timers from the deadline.
  durationOption('timeout(ms)', 'ms', ms, ms);
  return (next) => (ctx) => {
    if (streams || ctx.type === 'unary') {
      // From the call's start rather than from now: time spent in middleware before this one
      // (queues, rate limiters) is part of what the caller waits for.
      const deadline = ctx.startedAt + ms;
      if (deadline < ctx.deadline) ctx.deadline = deadline;
    }
    return next(ctx);
  };
}
