import { status as Status, type StatusObject } from '@grpc/grpc-js';
import type { CallContext } from '../client/context';
import {
  budgetOption,
  checkObject,
  codeSet,
  DEFAULT_MIN_ATTEMPT_MS,
  fn,
  integerAtLeast,
  nonNegative,
  optionalFn,
  positive,
  PREVIOUS_ATTEMPTS_KEY,
  PUSHBACK_STOP,
  pushbackMs,
  budgetSource,
  type RetryBudget,
} from './budget';
import { sendsRetries } from '../core/retries';
import type { Middleware, Next } from './types';

/** How the backoff is spread: `full` draws from [0, cap), `equal` from [cap/2, cap). */
export type Jitter = 'full' | 'equal';

/** What onRetry hears before each retry. */
export interface RetryEvent {
  readonly ctx: CallContext;
  /** The number the coming attempt will have (2 for the first retry). */
  readonly attempt: number;
  /** How long the call waits before it. */
  readonly delayMs: number;
  /** The failure being retried. */
  readonly status: StatusObject;
}

export interface RetryOptions {
  /** Total attempts, the first one included (as gRPC counts; Kitex counts retries only). Default 3. */
  maxAttempts?: number;
  /** Status codes that are retried; this list replaces the default. Default [UNAVAILABLE]. */
  retryableCodes?: readonly Status[];
  /** Backoff cap before the first retry. Default 20 ms. */
  initialBackoffMs?: number;
  /** Largest backoff cap. Default 1 s. */
  maxBackoffMs?: number;
  /** Growth of the cap per retry. Default 2. */
  backoffMultiplier?: number;
  /** Default 'full'. */
  jitter?: Jitter;
  /**
   * Deadline of each attempt alone; an attempt cut short by it is retried whatever
   * retryableCodes says. Default none.
   */
  attemptTimeoutMs?: number;
  /** No attempt starts with less time than this left before the call's deadline. Default 5 ms. */
  minAttemptMs?: number;
  /** Limits retries across calls; false for none. Default: a retryBudget() per client. */
  budget?: RetryBudget | false;
  /** Called before each retry (metrics, logs); errors it throws fail the call. */
  onRetry?: (event: RetryEvent) => void;
  /** Epoch-ms clock, the one deadlines are in. Default Date.now. */
  now?: () => number;
  /** Uniform [0, 1) source for jitter. Default Math.random. */
  random?: () => number;
  /** Waits `ms`; a cancelled call stops waiting at once whatever this does. Default a timer. */
  sleep?: (ms: number) => Promise<void>;
}

/** The first try and two retries: Kitex's default of two retries, counted our way. */
export const DEFAULT_RETRY_MAX_ATTEMPTS = 3;
/** The one code that says the request did not get done and another endpoint may well do it. */
export const DEFAULT_RETRYABLE_CODES: readonly Status[] = Object.freeze([Status.UNAVAILABLE]);
/**
 * Retries go to another endpoint, so there is little to wait out; the wait spreads a burst of
 * retries after a shared failure and stays small beside common deadlines.
 */
export const DEFAULT_INITIAL_BACKOFF_MS = 20;
/** Waits longer than this rarely fit in a unary call's deadline. */
export const DEFAULT_MAX_BACKOFF_MS = 1_000;
export const DEFAULT_BACKOFF_MULTIPLIER = 2;
/** A6's choice; spreads retries of calls that failed together best (fewest collisions). */
export const DEFAULT_JITTER: Jitter = 'full';

const CANCELLED_MESSAGE = 'Cancelled on client';

interface RetryPolicy {
  readonly maxAttempts: number;
  readonly retryable: ReadonlySet<Status>;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly multiplier: number;
  readonly equalJitter: boolean;
  readonly attemptTimeoutMs: number;
  readonly minAttemptMs: number;
  readonly onRetry: ((event: RetryEvent) => void) | undefined;
  readonly now: () => number;
  readonly random: () => number;
  readonly sleep: ((ms: number) => Promise<void>) | undefined;
}

/**
 * Retries unary calls that fail with a retryable code. Each retry runs the rest of the chain
 * again, so it is picked afresh and, while others remain, lands on an endpoint the call has not
 * tried. Retries wait an exponential, jittered backoff, or exactly what the server's pushback
 * says; a negative or unreadable pushback ends the call. No retry starts when the call is
 * cancelled, when the wait would pass the call's deadline, or when the budget is spent.
 * Streaming calls pass through untouched: their messages cannot be replayed.
 */
export function retry(options: RetryOptions = {}): Middleware {
  checkObject('retry', options);
  const initialBackoffMs = positive('retry', 'initialBackoffMs', options.initialBackoffMs, DEFAULT_INITIAL_BACKOFF_MS);
  const maxBackoffMs = positive('retry', 'maxBackoffMs', options.maxBackoffMs, Math.max(DEFAULT_MAX_BACKOFF_MS, initialBackoffMs));
  if (maxBackoffMs < initialBackoffMs) throw new TypeError(`retry: options.maxBackoffMs (${maxBackoffMs}) must be >= options.initialBackoffMs (${initialBackoffMs})`);
  const multiplier = options.backoffMultiplier ?? DEFAULT_BACKOFF_MULTIPLIER;
  if (typeof multiplier !== 'number' || !(multiplier >= 1) || multiplier === Infinity) {
    throw new TypeError(`retry: options.backoffMultiplier must be a finite number >= 1, got ${String(multiplier)}`);
  }
  const jitter = options.jitter ?? DEFAULT_JITTER;
  if (jitter !== 'full' && jitter !== 'equal') throw new TypeError(`retry: options.jitter must be 'full' or 'equal', got ${String(jitter)}`);
  const attemptTimeoutMs = options.attemptTimeoutMs === undefined ? Infinity : positive('retry', 'attemptTimeoutMs', options.attemptTimeoutMs, Infinity);
  const policy: RetryPolicy = {
    maxAttempts: integerAtLeast('retry', 'maxAttempts', options.maxAttempts, 1, DEFAULT_RETRY_MAX_ATTEMPTS),
    retryable: codeSet('retry', 'retryableCodes', options.retryableCodes, DEFAULT_RETRYABLE_CODES),
    initialBackoffMs,
    maxBackoffMs,
    multiplier,
    equalJitter: jitter === 'equal',
    attemptTimeoutMs,
    minAttemptMs: nonNegative('retry', 'minAttemptMs', options.minAttemptMs, DEFAULT_MIN_ATTEMPT_MS),
    onRetry: optionalFn('retry', 'onRetry', options.onRetry),
    now: fn('retry', 'now', options.now, Date.now),
    random: fn('retry', 'random', options.random, Math.random),
    sleep: optionalFn('retry', 'sleep', options.sleep),
  };
  const budgets = budgetSource(budgetOption('retry', options.budget));
  const timed = attemptTimeoutMs !== Infinity;

  const middleware: Middleware = (next) => async (ctx) => {
    if (ctx.type !== 'unary' || (policy.maxAttempts === 1 && !timed)) return next(ctx);
    const outerAttemptDeadline = ctx.attemptDeadline;
    if (timed) limitAttempt(ctx, policy, outerAttemptDeadline);
    await next(ctx);
    const status = ctx.status;
    if (status !== undefined && status.code === Status.OK) {
      budgets.of(ctx.client).onSuccess();
      if (timed) ctx.attemptDeadline = outerAttemptDeadline;
      return;
    }
    try {
      await recover(ctx, next, policy, budgets.of(ctx.client), outerAttemptDeadline);
    } finally {
      if (timed) ctx.attemptDeadline = outerAttemptDeadline;
    }
  };
  middleware.attach = (client) => () => budgets.forget(client);
  return sendsRetries(middleware);
}

function limitAttempt(ctx: CallContext, policy: RetryPolicy, outer: number): void {
  const deadline = policy.now() + policy.attemptTimeoutMs;
  ctx.attemptDeadline = deadline < outer ? deadline : outer;
}

/** The slow path: the first attempt failed. Loops until an attempt is not to be retried. */
async function recover(ctx: CallContext, next: Next, policy: RetryPolicy, budget: RetryBudget, outerAttemptDeadline: number): Promise<void> {
  let attempts = 1;
  // Backoff grows per retry since the last pushback: a server that named a wait resets it (A6).
  let backoffStep = 0;
  for (;;) {
    const status = ctx.status;
    if (status === undefined || ctx.aborted) return;
    if (status.code === Status.OK) {
      budget.onSuccess();
      return;
    }
    if (!policy.retryable.has(status.code) && !cutByAttemptTimeout(ctx, status, policy, outerAttemptDeadline)) return;
    // Response headers mean the server had begun to answer: A6 commits the call there, as the
    // request may well have been acted on.
    if (ctx.responseMetadata !== undefined) return;
    budget.onFailure();
    const pushback = pushbackMs(status.metadata);
    if (pushback === PUSHBACK_STOP || attempts >= policy.maxAttempts || !budget.canRetry()) return;
    let delay: number;
    if (pushback !== undefined) {
      delay = pushback;
      backoffStep = 0;
    } else {
      delay = backoff(policy, backoffStep++);
    }
    if (policy.now() + delay + policy.minAttemptMs > ctx.deadline) return;
    policy.onRetry?.({ ctx, attempt: ctx.attempt + 1, delayMs: delay, status });
    if (delay > 0) {
      await pause(ctx, delay, policy.sleep);
      if (ctx.aborted) {
        ctx.fail(Status.CANCELLED, CANCELLED_MESSAGE);
        return;
      }
      // The wait may have been longer than asked (a busy event loop): check again.
      if (policy.now() + policy.minAttemptMs > ctx.deadline) return;
    }
    // A copy, so the caller's Metadata object is left as it was given.
    if (attempts === 1) ctx.metadata = ctx.metadata.clone();
    ctx.metadata.set(PREVIOUS_ATTEMPTS_KEY, String(attempts));
    attempts++;
    ctx.attempt++;
    if (policy.attemptTimeoutMs !== Infinity) limitAttempt(ctx, policy, outerAttemptDeadline);
    await next(ctx);
  }
}

/** A DEADLINE_EXCEEDED that came from the per-attempt deadline while the call still has time. */
function cutByAttemptTimeout(ctx: CallContext, status: StatusObject, policy: RetryPolicy, outer: number): boolean {
  return (
    status.code === Status.DEADLINE_EXCEEDED &&
    policy.attemptTimeoutMs !== Infinity &&
    ctx.attemptDeadline < outer &&
    ctx.attemptDeadline < ctx.deadline &&
    policy.now() < ctx.deadline
  );
}

function backoff(policy: RetryPolicy, step: number): number {
  const grown = policy.initialBackoffMs * policy.multiplier ** step;
  const cap = grown < policy.maxBackoffMs ? grown : policy.maxBackoffMs;
  return policy.equalJitter ? cap / 2 + (policy.random() * cap) / 2 : policy.random() * cap;
}

/** Waits `ms`, or less when the call is cancelled meanwhile. */
function pause(ctx: CallContext, ms: number, sleep: ((ms: number) => Promise<void>) | undefined): Promise<void> {
  if (ctx.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let finished = false;
    const removeHook = ctx.onAbort(done);
    if (sleep) sleep(ms).then(done, done);
    else timer = setTimeout(done, ms);
    function done(): void {
      if (finished) return;
      finished = true;
      if (timer !== undefined) clearTimeout(timer);
      removeHook();
      resolve();
    }
  });
}
