import { status as Status } from '@grpc/grpc-js';
import { checkOptionsObject, functionOption, integerOption, positiveDurationOption } from '../core/options';
import { budgetOption, budgetSource, codeSet, DEFAULT_MIN_ATTEMPT_MS, timersOption, type RetryBudget, type Timers } from './budget';
import { HedgedCall, type HedgeEvent, type HedgePolicy } from './hedged-call';
import { declareKind } from '../core/middleware-kind';
import type { Middleware } from '../core/middleware';
import { WakeQueue } from './wake-queue';

export type { HedgeEvent, HedgeReason } from './hedged-call';

export interface HedgeOptions {
  /** How long to wait for an answer before sending another attempt. Default 100 ms. */
  delayMs?: number;
  /** Total attempts, the first one included. Default 2. */
  maxAttempts?: number;
  /**
   * Failures after which the other attempts carry on (and the next one is sent at once); any
   * other failure ends the call with that status. Default [UNAVAILABLE].
   */
  nonFatalCodes?: readonly Status[];
  /** No attempt starts with less time than this left before the call's deadline. Default 5 ms. */
  minAttemptMs?: number;
  /** Limits extra attempts across calls; false for none. Default: a retryBudget() per client. */
  budget?: RetryBudget | false;
  /** Called before each extra attempt (metrics, logs). */
  onHedge?: (event: HedgeEvent) => void;
  /** Epoch-ms clock, the one deadlines are in. Default Date.now. */
  now?: () => number;
  /** Default Node's timers. */
  timers?: Timers;
}

/**
 * Above the p99 of most in-datacenter unary calls, so that hedges stay rare until an endpoint is
 * slow; set it near the service's own p95.
 */
export const DEFAULT_HEDGE_DELAY_MS = 100;
/** One backup request, as Kitex sends: most of the tail cut for at most twice the load. */
export const DEFAULT_HEDGE_MAX_ATTEMPTS = 2;
/** As retry's default: an endpoint that could not take the request says nothing of the others. */
export const DEFAULT_NON_FATAL_CODES: readonly Status[] = Object.freeze([Status.UNAVAILABLE]);

/**
 * Kitex's backup request, gRPC's hedging: when a unary call has no answer after `delayMs`,
 * another attempt goes out beside the first, picked afresh (so on another endpoint while one
 * remains), up to `maxAttempts` in all. The first OK wins and the others are cancelled. A
 * failure with a code outside `nonFatalCodes` wins too: as in gRPC, it commits the call, since
 * the request itself is what failed and another endpoint would only say the same or, worse,
 * differ. Streaming calls pass through untouched.
 */
export function hedge(options: HedgeOptions = {}): Middleware {
  const where = 'hedge';
  checkOptionsObject(where, options, false);
  const now = functionOption(where, 'options.now', options.now, Date.now);
  const timers = timersOption(where, options.timers);
  const policy: HedgePolicy = {
    delayMs: positiveDurationOption(where, 'options.delayMs', options.delayMs, DEFAULT_HEDGE_DELAY_MS),
    maxAttempts: integerOption(where, 'options.maxAttempts', options.maxAttempts, DEFAULT_HEDGE_MAX_ATTEMPTS, { min: 1 }),
    nonFatal: codeSet(where, 'nonFatalCodes', options.nonFatalCodes, DEFAULT_NON_FATAL_CODES),
    minAttemptMs: positiveDurationOption(where, 'options.minAttemptMs', options.minAttemptMs, DEFAULT_MIN_ATTEMPT_MS, true),
    onHedge: functionOption(where, 'options.onHedge', options.onHedge),
    now,
    timers,
    queue: new WakeQueue(now, timers),
  };
  const budgets = budgetSource(budgetOption('hedge', options.budget));

  const middleware: Middleware = (next) => (ctx) => {
    if (ctx.type !== 'unary' || policy.maxAttempts === 1) return next(ctx);
    return new HedgedCall(policy, ctx, next, budgets.of(ctx.client)).start();
  };
  middleware.attach = (client) => () => budgets.forget(client);
  return declareKind(middleware, 'hedge');
}
