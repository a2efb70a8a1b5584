import { status as Status, type Metadata } from '@grpc/grpc-js';
import type { ClientView } from '../core/view';
import { checkOptionsObject, numberOption } from '../core/options';

/**
 * An allowance for extra attempts (retries and hedges). When an upstream fails as a whole, every
 * client retrying every call would multiply its load by maxAttempts just when it can least take
 * it; a budget turns retries off until calls succeed again. Give one object to both retry() and
 * hedge() of a client for a common allowance.
 */
export interface RetryBudget {
  /** True while one more attempt may be sent. */
  canRetry(): boolean;
  /** An attempt failed with a code its middleware would retry (or hedge past). */
  onFailure(): void;
  /** A call succeeded. */
  onSuccess(): void;
}

export interface RetryBudgetOptions {
  /** Size of the bucket; extra attempts stop while it holds half of this or less. Default 100. */
  maxTokens?: number;
  /** Tokens a successful call puts back; every failed attempt takes one. Default 0.1. */
  tokenRatio?: number;
}

/**
 * Large enough to absorb the burst of failures a killed endpoint causes at once (its share of
 * the calls in flight) without refusing their retries; small enough that a dead upstream stops
 * seeing retries after about 50 failed attempts.
 */
export const DEFAULT_MAX_TOKENS = 100;
/** gRPC's usual ratio: retries stay on while at most about one call in ten fails. */
export const DEFAULT_TOKEN_RATIO = 0.1;

/**
 * gRPC's retry throttling (A6): a bucket of `maxTokens` that starts full; a failed attempt takes
 * one token, a successful call puts `tokenRatio` back; extra attempts are allowed while the
 * bucket holds more than half. In steady failure, extra attempts settle near tokenRatio per
 * success, so with every upstream failing, attempts ÷ calls tends to 1.
 */
export class TokenBucketBudget implements RetryBudget {
  readonly maxTokens: number;
  readonly tokenRatio: number;
  private count: number;
  private readonly threshold: number;

  constructor(options: RetryBudgetOptions = {}) {
    checkOptionsObject('retryBudget', options, false);
    this.maxTokens = numberOption('retryBudget', 'options.maxTokens', options.maxTokens, DEFAULT_MAX_TOKENS, { above: 0 });
    this.tokenRatio = numberOption('retryBudget', 'options.tokenRatio', options.tokenRatio, DEFAULT_TOKEN_RATIO, { above: 0 });
    this.count = this.maxTokens;
    this.threshold = this.maxTokens / 2;
  }

  /** Tokens in the bucket now. */
  get tokens(): number {
    return this.count;
  }

  canRetry(): boolean {
    return this.count > this.threshold;
  }

  onFailure(): void {
    this.count = this.count > 1 ? this.count - 1 : 0;
  }

  onSuccess(): void {
    const count = this.count + this.tokenRatio;
    this.count = count < this.maxTokens ? count : this.maxTokens;
  }
}

/** A token-bucket retry budget to share between retry() and hedge(). */
export function retryBudget(options: RetryBudgetOptions = {}): TokenBucketBudget {
  return new TokenBucketBudget(options);
}

/** No limit at all: what `budget: false` means. */
export const unlimitedBudget: RetryBudget = Object.freeze({
  canRetry: () => true,
  onFailure: () => undefined,
  onSuccess: () => undefined,
});

/** Finds the budget of a call's client; forget() lets go of a closed client. */
export interface BudgetSource {
  of(client: ClientView): RetryBudget;
  forget(client: ClientView): void;
}

/**
 * Where retry() and hedge() get their budget: the one given, none (false), or by default a fresh
 * token bucket for each client the middleware serves, since a budget is about one upstream.
 * Repeat calls of one client skip the map lookup.
 */
export function budgetSource(given: RetryBudget | false | undefined): BudgetSource {
  if (given !== undefined) {
    const budget = given === false ? unlimitedBudget : given;
    return { of: () => budget, forget: () => undefined };
  }
  const budgets = new WeakMap<ClientView, RetryBudget>();
  let lastClient: ClientView | undefined;
  let lastBudget: RetryBudget = unlimitedBudget;
  return {
    of(client) {
      if (client === lastClient) return lastBudget;
      let budget = budgets.get(client);
      if (budget === undefined) budgets.set(client, (budget = new TokenBucketBudget()));
      lastClient = client;
      lastBudget = budget;
      return budget;
    },
    forget(client) {
      budgets.delete(client);
      if (client === lastClient) {
        lastClient = undefined;
        lastBudget = unlimitedBudget;
      }
    },
  };
}

/** Timers as the middleware sees them; replaceable so tests drive time by hand. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * An attempt with less time than this left before the call's deadline is not started: it would
 * almost surely end DEADLINE_EXCEEDED, adding load and hiding the more useful earlier failure.
 */
export const DEFAULT_MIN_ATTEMPT_MS = 5;

/** The trailer by which a server tells clients when (or whether) to try again (gRPC A6). */
export const PUSHBACK_KEY = 'grpc-retry-pushback-ms';

/** What pushbackMs() answers for a pushback that says: do not try again. */
export const PUSHBACK_STOP = -1;

const DIGITS = /^\d+$/;

/**
 * Reads the server's pushback: undefined when there is none, PUSHBACK_STOP when it is negative,
 * unreadable or repeated (A6: anything but one non-negative integer means "do not retry"), else
 * the milliseconds to wait.
 */
export function pushbackMs(metadata: Metadata | undefined): number | undefined {
  if (metadata === undefined) return undefined;
  const values = metadata.get(PUSHBACK_KEY);
  if (values.length === 0) return undefined;
  if (values.length > 1) return PUSHBACK_STOP;
  const value = values[0];
  if (typeof value !== 'string' || !DIGITS.test(value)) return PUSHBACK_STOP;
  const ms = Number(value);
  return Number.isSafeInteger(ms) ? ms : PUSHBACK_STOP;
}

/** The request metadata key telling the server how many attempts came before this one (A6). */
export const PREVIOUS_ATTEMPTS_KEY = 'grpc-previous-rpc-attempts';

// The domain checks of retry() and hedge() options; plain values go through core/options.

export function timersOption(factory: string, value: Timers | undefined): Timers {
  if (value === undefined) return systemTimers;
  if (value === null || typeof value.setTimeout !== 'function' || typeof value.clearTimeout !== 'function') {
    throw new TypeError(`${factory}: options.timers must have setTimeout(callback, ms) and clearTimeout(handle)`);
  }
  return value;
}

/** A set of status codes from a list, each checked; OK is never a failure. */
export function codeSet(factory: string, field: string, value: readonly Status[] | undefined, fallback: readonly Status[]): ReadonlySet<Status> {
  const codes = value ?? fallback;
  if (!Array.isArray(codes) || codes.length === 0) throw new TypeError(`${factory}: options.${field} must be a non-empty array of grpc status codes`);
  for (const code of codes) {
    if (typeof code !== 'number' || Status[code] === undefined || code === Status.OK) {
      throw new TypeError(`${factory}: options.${field} holds ${String(code)}, which is not a failing grpc status code`);
    }
  }
  return new Set(codes);
}

export function budgetOption(factory: string, value: RetryBudget | false | undefined): RetryBudget | false | undefined {
  if (value === undefined || value === false) return value;
  if (value === null || typeof value.canRetry !== 'function' || typeof value.onFailure !== 'function' || typeof value.onSuccess !== 'function') {
    throw new TypeError(`${factory}: options.budget must be a RetryBudget (canRetry, onFailure, onSuccess) or false`);
  }
  return value;
}

