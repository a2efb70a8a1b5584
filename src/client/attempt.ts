import { status as Status, type Channel, type Metadata, type StatusObject } from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import type { CallContext } from './context';
import type { ClientEndpoint } from './endpoint';

/** grpc-js's call object as `Channel.createCall` returns it (public API, the one its own Client uses). */
export type ChannelCall = ReturnType<Channel['createCall']>;

/** What grpc-js's getAuthContext returns: the peer's certificate and security level, or null. */
export type AuthContext = ReturnType<ChannelCall['getAuthContext']>;

/**
 * One attempt's grpc-js call, as the call objects the caller holds drive it: the same operations
 * whether the attempt went straight onto the channel or through grpc-js's Client (interceptors).
 */
export interface WireCall {
  /** Cancels with CANCELLED "Cancelled on client", as grpc-js's own call objects do. */
  cancel(): void;
  getPeer(): string;
  getAuthContext(): AuthContext;
  /** Asks for one more response message: streams read only as fast as their consumer. */
  read(): void;
  /** Sends one request message; `callback` runs once it has been handed to HTTP/2. */
  write(message: unknown, callback: (error?: Error | null) => void, flags: number | undefined): void;
  /** Half-closes: no more request messages. */
  end(): void;
}

/** The streaming call object the caller holds, as the transport feeds it. */
export interface StreamSurface {
  /** True once an attempt stands behind it: a stream is attempted at most once. */
  readonly bound: boolean;
  bind(wire: WireCall): void;
  /** Response headers, as they arrive. */
  receiveMetadata(metadata: Metadata): void;
  /** One response message (streams with server messages only). */
  receiveMessage(message: unknown): void;
}

/** grpc-js's wording for a thrown (de)serializer's error. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Records how an attempt ended: its outcome on the context and a sample on the endpoint. A
 * stream's duration is not a latency sample; only its outcome counts.
 */
export function endAttempt(ctx: CallContext, endpoint: ClientEndpoint, status: StatusObject, response: unknown, startedAt: number, now: () => number): void {
  ctx.inFlight = undefined;
  const code = (ctx.status = outcome(ctx, endpoint, status)).code;
  ctx.response = code === Status.OK ? response : undefined;
  ctx.attemptEndedAt = now();
  endpoint.end(code, ctx.type === 'unary' ? performance.now() - startedAt : undefined);
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
