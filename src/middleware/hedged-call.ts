import { status as Status } from '@grpc/grpc-js';
import type { CallContext } from '../core/context';
import { PREVIOUS_ATTEMPTS_KEY, PUSHBACK_STOP, pushbackMs, type RetryBudget, type Timers } from './budget';
import type { Next } from '../core/middleware';
import type { WakeQueue } from './wake-queue';

/** Why an extra attempt was sent: no answer within the delay, or an earlier attempt failed (non-fatally). */
export type HedgeReason = 'delay' | 'failure';

/** What onHedge hears before each extra attempt. */
export interface HedgeEvent {
  readonly ctx: CallContext;
  /** The number the new attempt will have (2 for the first hedge). */
  readonly attempt: number;
  readonly reason: HedgeReason;
}

const CANCELLED_MESSAGE = 'Cancelled on client';

/** A hedge() middleware's settings, shared by its calls. */
export interface HedgePolicy {
  readonly delayMs: number;
  readonly maxAttempts: number;
  readonly nonFatal: ReadonlySet<Status>;
  readonly minAttemptMs: number;
  readonly onHedge: ((event: HedgeEvent) => void) | undefined;
  readonly now: () => number;
  readonly timers: Timers;
  readonly queue: WakeQueue;
}

/** The attempts of one hedged call and what decides between them. */
export class HedgedCall {
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
  private resolve: () => void = noop;
  private reject: (error: unknown) => void = noop;
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
      if (this.pending === 0) this.finish(this.last);
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
    this.finish(this.last);
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

  /** Ends the call with `winner`'s outcome (the last failure when none won; there always is one by then). */
  private finish(winner: CallContext | undefined): void {
    this.done = true;
    this.clear();
    if (winner !== undefined) this.ctx.adopt(winner);
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

function noop(): void {}
