import { status as Status, type StatusObject } from '@grpc/grpc-js';
import type { Clock, MonotonicClock } from '../core/clock';
import type { CallContext } from '../core/context';
import type { ClientEndpoint } from './endpoint';

/** grpc-js's wording for a thrown (de)serializer's error. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Records how an attempt ended: its outcome on the context and a sample on the endpoint, timed
 * with the clock `startedAt` was read from (the client's stats clock). A
 * stream's duration is not a latency sample; only its outcome counts.
 */
export function endAttempt(ctx: CallContext, endpoint: ClientEndpoint, status: StatusObject, response: unknown, startedAt: number, now: Clock, statsClock: MonotonicClock): void {
  ctx.inFlight = undefined;
  const code = (ctx.status = outcome(ctx, endpoint, status)).code;
  ctx.response = code === Status.OK ? response : undefined;
  ctx.attemptEndedAt = now();
  endpoint.end(code, ctx.type === 'unary' ? statsClock() - startedAt : undefined);
}

/**
 * The attempt's status as the chain should see it. grpc-js reports a stream reset by the server
 * (a server going away mid-call) as CANCELLED, the code of a caller's own cancel; when the caller
 * cancelled nothing, it is the endpoint that failed, which retries and breakers must see as such.
 */
function outcome(ctx: CallContext, endpoint: ClientEndpoint, status: StatusObject): StatusObject {
  const { code, details, metadata } = status;
  if (code === Status.CANCELLED && !ctx.aborted) {
    return { code: Status.UNAVAILABLE, details: `${details} (stream reset by ${endpoint.address})`, metadata };
  }
  // A ServiceError is a StatusObject too, but carries a stack: keep only the status.
  return status instanceof Error ? { code, details, metadata } : status;
}
