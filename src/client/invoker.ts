import { status as Status, type CallOptions, type Metadata, type MethodDefinition, type StatusObject } from '@grpc/grpc-js';
import type { Next } from '../core/middleware';
import { missingOutcome } from './call-status';
import { CallContext, type CallType } from '../core/context';
import type { Logger } from '../core/logger';
import type { ClientView } from '../core/view';

/** Where a call's outcome goes once the chain has finished with it: the call object the caller holds. */
export interface CallSurface {
  finish(status: StatusObject, response: unknown): void;
}

/**
 * Starts calls: makes their context, runs the middleware chain, hands the outcome to the call
 * object, and knows the calls under way so close() can cancel them (grpc-js lets calls on a
 * closed channel run on).
 */
export class Invoker {
  private readonly live = new Set<CallContext>();

  constructor(
    private readonly view: ClientView,
    private readonly chain: Next,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  /** A context for one call of `def`; `callOptions` is the caller's own object, kept as is (never copied). */
  context(
    def: MethodDefinition<unknown, unknown>,
    type: CallType,
    request: unknown,
    metadata: Metadata,
    callOptions: CallOptions,
    deadline: Date | number | null | undefined,
    hashKey: string | undefined,
  ): CallContext {
    return new CallContext({
      client: this.view,
      service: this.view.service,
      target: this.view.target,
      method: def.path,
      type,
      definition: def,
      request,
      metadata,
      deadline: deadline === undefined ? Infinity : toEpochMs(deadline, 'call option deadline'),
      hashKey,
      callOptions,
      startedAt: this.now(),
    });
  }

  /** Runs `ctx` through the chain and delivers its outcome to `surface`; `signal` cancels it. */
  async run(ctx: CallContext, surface: CallSurface, signal: AbortSignal | undefined): Promise<void> {
    this.live.add(ctx);
    let onAbort: (() => void) | undefined;
    if (signal) {
      if (signal.aborted) ctx.abort(Status.CANCELLED);
      else signal.addEventListener('abort', (onAbort = () => ctx.abort(Status.CANCELLED)), { once: true });
    }
    try {
      await this.chain(ctx);
    } catch (error) {
      this.logger.error({ service: ctx.service, method: ctx.method, err: String(error) }, 'middleware threw');
      ctx.fail(Status.INTERNAL, `middleware threw during ${ctx.method}: ${error instanceof Error ? error.message : String(error)}`);
    }
    this.live.delete(ctx);
    if (signal && onAbort) signal.removeEventListener('abort', onAbort);
    // A call refused before any attempt went out (an open breaker, no endpoint) would otherwise
    // settle within the caller's own microtask queue: a caller looping on it would never let
    // timers or I/O run. grpc-js delivers such failures from a macrotask too.
    if (ctx.wire === undefined) await nextMacrotask();
    surface.finish(ctx.status ?? missingOutcome(ctx), ctx.response);
  }

  /** Cancels every call under way (the client is closing). */
  cancelAll(): void {
    for (const ctx of this.live) ctx.abort(Status.CANCELLED);
  }
}

/** An absolute deadline in epoch ms from a Date or a number; Infinity for none. */
export function toEpochMs(deadline: Date | number | null | undefined, field: string): number {
  if (deadline === undefined) return Infinity;
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  if (typeof ms !== 'number' || Number.isNaN(ms)) throw new TypeError(`${field} must be a Date or epoch milliseconds, got ${String(deadline)}`);
  return ms;
}

function nextMacrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
