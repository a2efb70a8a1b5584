import { Metadata, status as Status, type CallOptions, type Client, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import type { Next } from '../middleware/types';
import type { RealStream, StreamProxy } from './calls';
import type { CallContext } from './context';
import type { ClientEndpoint } from './endpoint';
import type { EndpointSet } from './endpoint-set';

export interface TransportOptions {
  /** How long a call without a deadline waits for an endpoint to become ready. */
  readonly pickTimeoutMs: number;
  readonly now: () => number;
  /** Middleware hooks told of each attempt's endpoint before it is sent; usually empty. */
  readonly picked: readonly ((ctx: CallContext, endpoint: ClientEndpoint) => void)[];
}

/** Where a streaming call's proxy is kept on its context, for the transport to bind. */
export const STREAM_PROXY = Symbol('grpc-lb-kit.streamProxy');
type WithProxy = CallContext & { [STREAM_PROXY]?: StreamProxy };

export function attachStream(ctx: CallContext, proxy: StreamProxy): void {
  (ctx as WithProxy)[STREAM_PROXY] = proxy;
}

/**
 * The end of the middleware chain: picks an endpoint (waiting, within bounds, when none is ready
 * yet) and sends the attempt on it. Resolves when the attempt has finished, outcome in ctx.
 */
export function transport(set: EndpointSet, options: TransportOptions): Next {
  return (ctx) => {
    ctx.resetOutcome();
    const endpoint = ctx.aborted ? undefined : set.pick(ctx);
    if (endpoint) return send(ctx, endpoint, options);
    return waitForEndpoint(ctx, set, options).then((picked) => (picked ? send(ctx, picked, options) : undefined));
  };
}

async function waitForEndpoint(ctx: CallContext, set: EndpointSet, options: TransportOptions): Promise<ClientEndpoint | undefined> {
  const waitUntil = options.now() + options.pickTimeoutMs;
  for (;;) {
    if (ctx.aborted) {
      ctx.fail(Status.CANCELLED, 'Cancelled on client');
      return undefined;
    }
    if (set.isClosed) {
      ctx.fail(Status.UNAVAILABLE, `client for "${ctx.service}" (${ctx.target}) is closed`);
      return undefined;
    }
    const endpoint = set.pick(ctx);
    if (endpoint) return endpoint;
    const why = set.unavailability();
    if (!why.wait) {
      ctx.fail(Status.UNAVAILABLE, why.message);
      return undefined;
    }
    const now = options.now();
    const deadline = ctx.effectiveDeadline;
    if (now >= deadline) {
      ctx.fail(Status.DEADLINE_EXCEEDED, `deadline exceeded while waiting for an endpoint: ${why.message}`);
      return undefined;
    }
    if (now >= waitUntil) {
      ctx.fail(Status.UNAVAILABLE, `${why.message} (waited ${options.pickTimeoutMs} ms)`);
      return undefined;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, timerDelay(Math.min(deadline, waitUntil) - now));
      const removeAbortHook = ctx.onAbort(done);
      const removeWaiter = set.onNextChange(done);
      function done() {
        clearTimeout(timer);
        removeAbortHook();
        removeWaiter();
        resolve();
      }
    });
  }
}

/** Node's timers hold at most 2^31-1 ms and fire at once beyond it; a longer wait is re-armed by the caller's loop. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function timerDelay(ms: number): number {
  return ms > MAX_TIMER_MS ? MAX_TIMER_MS : ms;
}

function attemptOptions(ctx: CallContext): CallOptions {
  const deadline = ctx.effectiveDeadline;
  return deadline === Infinity ? ctx.callOptions : { ...ctx.callOptions, deadline };
}

function send(ctx: CallContext, endpoint: ClientEndpoint, { picked: hooks, now }: TransportOptions): Promise<void> {
  let proxy: StreamProxy | undefined;
  if (ctx.type !== 'unary') {
    proxy = (ctx as WithProxy)[STREAM_PROXY];
    if (!proxy) {
      ctx.fail(Status.INTERNAL, `streaming call to ${ctx.method} has no stream to bind`);
      return Promise.resolve();
    }
    if (proxy.bound) {
      // Messages already went to the first attempt's server; they cannot be replayed elsewhere.
      ctx.fail(Status.INTERNAL, `streaming call to ${ctx.method} cannot be attempted twice`);
      return Promise.resolve();
    }
  }
  ctx.endpoint = endpoint;
  ctx.tried.add(endpoint.address);
  ctx.attemptStartedAt = now();
  for (let i = 0; i < hooks.length; i++) hooks[i](ctx, endpoint);
  return new Promise((resolve) => {
    const { definition: def, metadata } = ctx;
    const client: Client = endpoint.client;
    const options = attemptOptions(ctx);
    let error: ServiceError | null = null;
    let response: unknown;
    const callback = (err: ServiceError | null, value?: unknown) => {
      error = err;
      response = value;
    };
    const started = performance.now();
    endpoint.begin();
    let call: RealStream;
    switch (ctx.type) {
      case 'unary':
        call = client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, ctx.request, metadata, options, callback);
        break;
      case 'server_stream':
        call = client.makeServerStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, ctx.request, metadata, options);
        break;
      case 'client_stream':
        call = client.makeClientStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, metadata, options, callback);
        break;
      default:
        call = client.makeBidiStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, metadata, options);
    }
    proxy?.bind(call);
    ctx.inFlight = call;
    call.on('metadata', (received: Metadata) => {
      ctx.responseMetadata = received;
    });
    call.on('status', (status: StatusObject) => {
      ctx.inFlight = undefined;
      // The callback's error is the truth: grpc-js turns an OK status without a message into one.
      ctx.status = outcome(ctx, endpoint, error ?? status);
      ctx.response = response;
      ctx.attemptEndedAt = now();
      // A stream's duration is not a latency sample; only its outcome counts.
      endpoint.end(ctx.status.code, proxy ? undefined : performance.now() - started);
      // Replies the caller has not read yet may still sit in the grpc-js stream (paused by
      // backpressure): the call ends for the caller only once they have passed into the proxy.
      if (proxy === undefined || ctx.type === 'client_stream' || call.readableEnded !== false || ctx.aborted) return resolve();
      let removeAbortHook = (): void => undefined;
      const passed = () => {
        call.off('end', passed);
        call.off('close', passed);
        removeAbortHook();
        resolve();
      };
      call.on('end', passed);
      call.on('close', passed);
      removeAbortHook = ctx.onAbort(passed);
    });
  });
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
