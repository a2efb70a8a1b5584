import { status as Status } from '@grpc/grpc-js';
import type { CallContext } from '../client/context';
import { checkOptionsObject, functionOption, integerOption, positiveDurationOption } from '../core/options';
import {
  budgetOption,
  codeSet,
  DEFAULT_MIN_ATTEMPT_MS,
  budgetSource,
  PREVIOUS_ATTEMPTS_KEY,
  PUSHBACK_STOP,
  pushbackMs,
  timersOption,
  type RetryBudget,
  type Timers,
} from './budget';
import { sendsRetries } from '../core/retries';
import { declareKind } from './order';
import type { Middleware, Next } from './types';

/** Why an extra attempt was sent: no answer within the delay, or an earlier attempt failed (non-fatally). */
export type HedgeReason = 'delay' | 'failure';

/** What onHedge hears before each extra attempt. */
export interface HedgeEvent {
  readonly ctx: CallContext;
  /** The number the new attempt will have (2 for the first hedge). */
  readonly attempt: number;
  readonly reason: HedgeReason;
}

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

const CANCELLED_MESSAGE = 'Cancelled on client';
/** Past this many spent slots at the front, the wake-up queue is compacted. */
const QUEUE_COMPACT_AT = 1024;

interface HedgePolicy {
  readonly delayMs: number;
  readonly maxAttempts: number;
  readonly nonFatal: ReadonlySet<Status>;
  readonly minAttemptMs: number;
  readonly onHedge: ((event: HedgeEvent) => void) | undefined;
  readonly now: () => number;
  readonly timers: Timers;
  readonly queue: WakeQueue;
}

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
  return sendsRetries(declareKind(middleware, 'hedge'));
}

/**
 * One timer for the first hedge of every call instead of one per call: the delay is the same for
 * all, so wake-up times arrive in order and a FIFO queue stays sorted. Calls that finish early
 * stay queued (no search to remove them) and are skipped when their time comes.
 */
class WakeQueue {
  private items: (HedgedCall | undefined)[] = [];
  private head = 0;
  private armed = false;
  private readonly fire = (): void => this.drain();

  constructor(
    private readonly now: () => number,
    private readonly timers: Timers,
  ) {}

  push(call: HedgedCall, at: number): void {
    call.queuedAt = at;
    call.inQueue = true;
    this.items.push(call);
    if (!this.armed) this.arm(at);
  }

  private arm(at: number): void {
    this.armed = true;
    const wait = at - this.now();
    const handle = this.timers.setTimeout(this.fire, wait > 0 ? wait : 0) as { unref?: () => void } | undefined;
    // The calls in flight keep the process alive; finished calls waiting here to be dropped must not.
    handle?.unref?.();
  }

  private drain(): void {
    this.armed = false;
    const t = this.now();
    const items = this.items;
    while (this.head < items.length) {
      const call = items[this.head]!;
      if (!call.done && call.queuedAt > t) break;
      items[this.head++] = undefined;
      call.inQueue = false;
      if (!call.done) call.wake();
    }
    if (this.head === items.length) {
      items.length = 0;
      this.head = 0;
      return;
    }
    if (this.head >= QUEUE_COMPACT_AT && this.head * 2 >= items.length) {
      this.items = items.slice(this.head);
      this.head = 0;
    }
    this.arm(this.items[this.head]!.queuedAt);
  }
}

/** The attempts of one hedged call and what decides between them. */
class HedgedCall {
  done = false;
  inQueue = false;
  queuedAt = 0;
  /** When the next extra attempt is due. */
  private nextAt = 0;
  private sent = 0;
  private pending = 0;
  /** No more extra attempts: budget, deadline or the server's pushback said so. */
  private stopped = false;
  private readonly forks: CallContext[] = [];
  private last: CallContext | undefined = undefined;
  private timer: unknown = undefined;
  private removeAbortHook: (() => void) | undefined = undefined;
  private resolve!: () => void;
  private reject!: (error: unknown) => void;
  // Let go of once the call is done: the shared queue keeps finished calls until their delay
  // passes, and should hold only this small shell, not the contexts.
  private ctx: CallContext;
  private next: Next;
  private budget: RetryBudget;

  constructor(
    private readonly policy: HedgePolicy,
    ctx: CallContext,
    next: Next,
    budget: RetryBudget,
  ) {
    this.ctx = ctx;
    this.next = next;
    this.budget = budget;
  }

  start(): Promise<void> {
    const promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    try {
      this.launch();
    } catch (error) {
      this.crash(error);
      return promise;
    }
    this.nextAt = this.policy.now() + this.policy.delayMs;
    this.policy.queue.push(this, this.nextAt);
    return promise;
  }

  /** A wake-up from the shared queue or this call's own timer. Never throws: the queue goes on. */
  wake(): void {
    if (this.done) return;
    try {
      const t = this.policy.now();
      if (t < this.nextAt) {
        // An attempt went out since this wake-up was set (after a failure): wait a full delay.
        if (this.timer === undefined) this.setTimer(this.nextAt - t);
        return;
      }
      this.hedge('delay', t);
    } catch (error) {
      // A hook or budget that threw: the call fails with it rather than the process.
      this.crash(error);
    }
  }

  private hedge(reason: HedgeReason, t: number): void {
    if (this.stopped || this.sent >= this.policy.maxAttempts) return;
    const ctx = this.ctx;
    if (ctx.aborted) {
      this.stopped = true;
      this.cancelled();
      return;
    }
    if (ctx.deadline - t < this.policy.minAttemptMs || !this.budget.canRetry()) {
      this.stopped = true;
      if (this.pending === 0) this.finish(this.last!);
      return;
    }
    this.policy.onHedge?.({ ctx, attempt: ctx.attempt + this.sent, reason });
    this.launch();
    if (this.sent < this.policy.maxAttempts) this.reschedule(t + this.policy.delayMs);
  }

  private launch(): void {
    const fork = this.ctx.fork();
    const previous = this.sent++;
    fork.attempt = this.ctx.attempt + previous;
    if (previous > 0) fork.metadata.set(PREVIOUS_ATTEMPTS_KEY, String(previous));
    this.forks.push(fork);
    this.pending++;
    this.next(fork).then(
      () => this.settle(fork),
      (error: unknown) => this.crash(error),
    );
  }

  private settle(fork: CallContext): void {
    this.pending--;
    if (this.done) return;
    try {
      this.judge(fork);
    } catch (error) {
      this.crash(error);
    }
  }

  /** Decides what an attempt's outcome means for the call. */
  private judge(fork: CallContext): void {
    const status = fork.status;
    if (status === undefined || status.code === Status.OK || this.ctx.aborted || !this.policy.nonFatal.has(status.code)) {
      if (status !== undefined && status.code === Status.OK) this.budget.onSuccess();
      this.finish(fork);
      return;
    }
    this.budget.onFailure();
    this.last = fork;
    const pushback = pushbackMs(status.metadata);
    if (pushback === PUSHBACK_STOP) this.stopped = true;
    else if (pushback !== undefined) this.reschedule(this.policy.now() + pushback);
    // A6: after a non-fatal failure the next attempt goes at once rather than after the delay.
    else this.hedge('failure', this.policy.now());
    if (this.done || this.pending > 0) return;
    if (this.stopped || this.sent >= this.policy.maxAttempts) {
      this.finish(fork);
      return;
    }
    // Nothing in flight and a pushback to wait out: a cancel must not wait for it.
    this.removeAbortHook ??= this.ctx.onAbort(() => this.cancelled());
  }

  /** The caller cancelled. Attempts in flight end CANCELLED by themselves; with none, end here. */
  private cancelled(): void {
    if (this.done || this.pending > 0) return;
    const ctx = this.ctx;
    this.finish(this.last!);
    ctx.fail(Status.CANCELLED, CANCELLED_MESSAGE);
  }

  private reschedule(at: number): void {
    this.nextAt = at;
    // The queue wakes the call first and defers to nextAt from there.
    if (this.inQueue && at >= this.queuedAt) return;
    if (this.timer !== undefined) this.policy.timers.clearTimeout(this.timer);
    const wait = at - this.policy.now();
    this.setTimer(wait > 0 ? wait : 0);
  }

  private setTimer(ms: number): void {
    this.timer = this.policy.timers.setTimeout(() => {
      this.timer = undefined;
      this.wake();
    }, ms);
  }

  private finish(winner: CallContext): void {
    this.done = true;
    this.clear();
    this.ctx.adopt(winner);
    for (const fork of this.forks) if (fork !== winner && fork.status === undefined) fork.abort(Status.CANCELLED);
    this.release();
    this.resolve();
  }

  private crash(error: unknown): void {
    if (this.done) return;
    this.done = true;
    this.clear();
    for (const fork of this.forks) if (fork.status === undefined) fork.abort(Status.CANCELLED);
    this.release();
    this.reject(error);
  }

  private release(): void {
    this.forks.length = 0;
    this.last = undefined;
    this.ctx = this.next = this.budget = undefined!;
  }

  private clear(): void {
    if (this.timer !== undefined) this.policy.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.removeAbortHook?.();
    this.removeAbortHook = undefined;
  }
}
