import { status as Status, type StatusObject } from '@grpc/grpc-js';
import type { CallContext } from '../core/context';
import {
  budgetOption,
  codeSet,
  DEFAULT_MIN_ATTEMPT_MS,
  PREVIOUS_ATTEMPTS_KEY,
  PUSHBACK_STOP,
  pushbackMs,
  budgetSource,
  type RetryBudget,
} from './budget';
import { backoffDelay, type BackoffOptions } from '../core/backoff';
import { abortableSleep } from '../core/sleep';
import { declareKind } from '../core/middleware-kind';
import type { Middleware, Next } from '../core/middleware';
import { describeValue } from '../core/text';
import { checkOptionsObject, functionOption, integerOption, numberOption, oneOfOption, positiveDurationOption } from '../core/options';

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
  /** True for a transparent retry: the failed attempt never reached a server. */
  readonly transparent: boolean;
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
  /**
   * Methods whose calls may be replayed after the server has begun to answer (sent response
   * headers): true for every method, a list of methods ('/pkg.Service/Method' or 'Method'), or
   * a predicate. Only for methods where doing the request twice does no harm. Default none: a
   * call whose server sent headers is never replayed, as gRPC commits it there.
   */
  idempotent?: boolean | readonly string[] | ((ctx: CallContext) => boolean);
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
  readonly idempotent: (ctx: CallContext) => boolean;
  readonly retryable: ReadonlySet<Status>;
  /** Spacing of retries not told by a pushback: initial × multiplier^n up to the cap, jittered. */
  readonly backoff: BackoffOptions;
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
  const where = 'retry';
  checkOptionsObject(where, options, false);
  const initialBackoffMs = positiveDurationOption(where, 'options.initialBackoffMs', options.initialBackoffMs, DEFAULT_INITIAL_BACKOFF_MS);
  const maxBackoffMs = positiveDurationOption(where, 'options.maxBackoffMs', options.maxBackoffMs, Math.max(DEFAULT_MAX_BACKOFF_MS, initialBackoffMs));
  if (maxBackoffMs < initialBackoffMs) throw new TypeError(`retry: options.maxBackoffMs (${maxBackoffMs}) must be >= options.initialBackoffMs (${initialBackoffMs})`);
  const multiplier = numberOption(where, 'options.backoffMultiplier', options.backoffMultiplier, DEFAULT_BACKOFF_MULTIPLIER, { atLeast: 1 });
  const jitter = oneOfOption(where, 'options.jitter', options.jitter, DEFAULT_JITTER, ['full', 'equal']);
  const attemptTimeoutMs = positiveDurationOption(where, 'options.attemptTimeoutMs', options.attemptTimeoutMs, Infinity);
  const policy: RetryPolicy = {
    maxAttempts: integerOption(where, 'options.maxAttempts', options.maxAttempts, DEFAULT_RETRY_MAX_ATTEMPTS, { min: 1 }),
    idempotent: idempotentOption(options.idempotent),
    retryable: codeSet(where, 'retryableCodes', options.retryableCodes, DEFAULT_RETRYABLE_CODES),
    backoff: { initialMs: initialBackoffMs, maxMs: maxBackoffMs, multiplier, jitter },
    attemptTimeoutMs,
    minAttemptMs: positiveDurationOption(where, 'options.minAttemptMs', options.minAttemptMs, DEFAULT_MIN_ATTEMPT_MS, true),
    onRetry: functionOption(where, 'options.onRetry', options.onRetry),
    now: functionOption(where, 'options.now', options.now, Date.now),
    random: functionOption(where, 'options.random', options.random, Math.random),
    sleep: functionOption(where, 'options.sleep', options.sleep),
  };
  const budgets = budgetSource(budgetOption('retry', options.budget));
  const timed = attemptTimeoutMs !== Infinity;

  const middleware: Middleware = (next) => async (ctx) => {
    if (ctx.type !== 'unary') return next(ctx);
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
  return declareKind(middleware, 'retry');
}

function limitAttempt(ctx: CallContext, policy: RetryPolicy, outer: number): void {
  const deadline = policy.now() + policy.attemptTimeoutMs;
  ctx.attemptDeadline = deadline < outer ? deadline : outer;
}

/** The slow path: the first attempt failed. Loops until an attempt is not to be retried. */
async function recover(ctx: CallContext, next: Next, policy: RetryPolicy, budget: RetryBudget, outerAttemptDeadline: number): Promise<void> {
  let attempts = 1;
  // Backoff grows per retry since the last pushback: a server that named a wait resets it (A6).
  let backoffSteps = 0;
  // Each transparent retry goes to an endpoint the call has not tried: one per endpoint at most.
  let transparentLeft = -1;
  let copied = false;
  for (;;) {
    const status = ctx.status;
    if (status === undefined || ctx.aborted) return;
    if (status.code === Status.OK) {
      budget.onSuccess();
      return;
    }
    if (transparentLeft < 0) transparentLeft = Math.max(1, ctx.client.endpoints().length);
    let delay = 0;
    const transparent = transparentLeft > 0 && neverReachedServer(ctx, status);
    if (transparent) {
      // A6's transparent retry: nothing reached a server, so nothing can have been done twice.
      // It costs no attempt, no budget token and no backoff.
      transparentLeft--;
      if (policy.now() + policy.minAttemptMs > ctx.deadline) return;
    } else {
      if (!policy.retryable.has(status.code) && !cutByAttemptTimeout(ctx, status, policy, outerAttemptDeadline)) return;
      // Response headers mean the server had begun to answer: A6 commits the call there, as the
      // request may well have been acted on; only a method marked idempotent may be replayed.
      if (ctx.responseMetadata !== undefined && !policy.idempotent(ctx)) return;
      budget.onFailure();
      const pushback = pushbackMs(status.metadata);
      if (pushback === PUSHBACK_STOP || attempts >= policy.maxAttempts || !budget.canRetry()) return;
      if (pushback !== undefined) {
        delay = pushback;
        backoffSteps = 0;
      } else {
        delay = backoffDelay(++backoffSteps, policy.backoff, policy.random);
      }
      if (policy.now() + delay + policy.minAttemptMs > ctx.deadline) return;
      attempts++;
    }
    policy.onRetry?.({ ctx, attempt: ctx.attempt + 1, delayMs: delay, status, transparent });
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
    if (!copied) {
      ctx.metadata = ctx.metadata.clone();
      copied = true;
    }
    ctx.metadata.set(PREVIOUS_ATTEMPTS_KEY, String(ctx.attempt));
    ctx.beginAttempt(ctx.attempt + 1);
    if (policy.attemptTimeoutMs !== Infinity) limitAttempt(ctx, policy, outerAttemptDeadline);
    await next(ctx);
  }
}

/**
 * What grpc-js reports for an attempt no server application saw: the endpoint's channel had no
 * connection to put it on (its picker's "No connection established"), was closed with the
 * attempt still queued, could not start the HTTP/2 stream, or the server refused the stream
 * (REFUSED_STREAM, e.g. after its GOAWAY). grpc-js retries these itself only while its own
 * retries are on, which a client whose chain retries turns off; the status it reports does not
 * carry its classification, so the details it writes are what tells them apart.
 */
const NEVER_SENT: readonly (readonly [string, Status])[] = [
  ['No connection established', Status.UNAVAILABLE],
  ['Channel closed before call started', Status.UNAVAILABLE],
  ['Stream refused by server', Status.UNAVAILABLE],
  ['Failed to start HTTP/2 stream', Status.INTERNAL],
];

/** Whether the failed attempt never reached a server's application (A6: safe to retry transparently). */
export function neverReachedServer(ctx: CallContext, status: StatusObject): boolean {
  if (ctx.responseMetadata !== undefined || ctx.endpoint === undefined) return false;
  // grpc-js's own classification, when a status carries it.
  const progress = (status as { progress?: unknown }).progress;
  if (progress === 'NOT_STARTED' || progress === 'REFUSED') return true;
  const details = status.details;
  for (const [prefix, code] of NEVER_SENT) if (status.code === code && details.startsWith(prefix)) return true;
  return false;
}

/** Turns the `idempotent` option into a test of a call. */
function idempotentOption(value: RetryOptions['idempotent']): (ctx: CallContext) => boolean {
  if (value === undefined || value === false) return never;
  if (value === true) return always;
  if (typeof value === 'function') return value;
  if (Array.isArray(value) && value.every((m) => typeof m === 'string' && m.length > 0)) {
    const methods = new Set<string>(value);
    // '/pkg.Service/Method' matches itself and 'Method'.
    return (ctx) => methods.has(ctx.method) || methods.has(ctx.method.slice(ctx.method.lastIndexOf('/') + 1));
  }
  throw new TypeError(`retry: options.idempotent must be true, false, a list of method names or a function (ctx) => boolean, got ${describeValue(value)}`);
}

const never = (): boolean => false;
const always = (): boolean => true;

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

/** Waits `ms`, or less when the call is cancelled meanwhile (whatever a given `sleep` does). */
function pause(ctx: CallContext, ms: number, sleep: ((ms: number) => Promise<void>) | undefined): Promise<void> {
  if (sleep === undefined) return abortableSleep(ms, ctx.signal);
  if (ctx.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const removeHook = ctx.onAbort(resolve);
    const done = (): void => {
      removeHook();
      resolve();
    };
    sleep(ms).then(done, done);
  });
}
