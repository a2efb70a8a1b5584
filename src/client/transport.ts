import { status as Status } from '@grpc/grpc-js';
import { monotonicClock, type Clock, type MonotonicClock } from '../core/clock';
import { abortableSleep } from '../core/sleep';
import type { Next } from '../core/middleware';
import type { ChannelCall } from '../core/wire';
import { errorMessage } from './attempt';
import { ChannelAttempt } from './channel-attempt';
import { ClientAttempt } from './client-attempt';
import type { CallContext } from '../core/context';
import type { ClientEndpoint } from './endpoint';
import type { EndpointSet } from './endpoint-set';

export interface TransportOptions {
  /** How long a call without a deadline waits for an endpoint to become ready. */
  readonly pickTimeoutMs: number;
  /** Wall clock, epoch ms: deadlines and the attempts' start and end times. */
  readonly now: Clock;
  /**
   * Monotonic clock the attempts' start times are read from, for their latency samples; the end
   * is read in endAttempt (attempt.ts) from the same clock. Default performance.now().
   */
  readonly statsClock?: MonotonicClock;
  /** Middleware hooks told of each attempt's endpoint before it is sent; usually empty. */
  readonly picked: readonly ((ctx: CallContext, endpoint: ClientEndpoint) => void)[];
  /**
   * True when the endpoints' grpc-js Clients carry interceptors, interceptor providers or a
   * call-invocation transformer (from channelOptions): every attempt then goes through them.
   */
  readonly clientInterceptors: boolean;
}

/**
 * The end of the middleware chain: picks an endpoint (waiting, within bounds, when none is ready
 * yet) and sends the attempt on it. Resolves when the attempt has finished, outcome in ctx.
 */
export function transport(set: EndpointSet, given: TransportOptions): Next {
  const options: Required<TransportOptions> = { ...given, statsClock: given.statsClock ?? monotonicClock };
  return (ctx) => {
    const endpoint = ctx.aborted ? undefined : set.pick(ctx);
    if (endpoint) return send(ctx, endpoint, options);
    return waitForEndpoint(ctx, set, options).then((picked) => (picked ? send(ctx, picked, options) : undefined));
  };
}

/**
 * Sends one attempt on `endpoint`: straight onto its channel, or through grpc-js's Client when
 * the call has interceptors. Resolves when the attempt has ended.
 */
function send(ctx: CallContext, endpoint: ClientEndpoint, options: Required<TransportOptions>): Promise<void> {
  if (ctx.type !== 'unary') {
    const stream = ctx.stream;
    if (!stream) {
      ctx.fail(Status.INTERNAL, `streaming call to ${ctx.method} has no stream to bind`);
      return Promise.resolve();
    }
    if (stream.bound) {
      // Messages already went to the first attempt's server; they cannot be replayed elsewhere.
      ctx.fail(Status.INTERNAL, `streaming call to ${ctx.method} cannot be attempted twice`);
      return Promise.resolve();
    }
  }
  const { now, statsClock, picked: hooks } = options;
  ctx.endpoint = endpoint;
  ctx.noteTried(endpoint.address);
  ctx.attemptStartedAt = now();
  for (let i = 0; i < hooks.length; i++) hooks[i](ctx, endpoint);
  const callOptions = ctx.callOptions;
  const { interceptors, interceptor_providers: providers } = callOptions;
  // Interceptors run only on grpc-js's own Client path; everything else goes straight on the channel.
  const intercepted = options.clientInterceptors || (interceptors !== undefined && interceptors.length > 0) || (providers !== undefined && providers.length > 0);
  let call: ChannelCall | undefined;
  if (!intercepted) {
    try {
      const { host, parent, propagate_flags: propagateFlags } = callOptions;
      call = endpoint.client.getChannel().createCall(ctx.definition.path, ctx.effectiveDeadline, host, parent ?? null, propagateFlags);
    } catch (error) {
      // The endpoint's channel closed between the pick and the send (it left the resolver's list).
      ctx.fail(Status.UNAVAILABLE, `endpoint ${endpoint.address} of "${ctx.service}" (${ctx.target}) is closed: ${errorMessage(error)}`);
      return Promise.resolve();
    }
  }
  return new Promise((resolve) => {
    if (call) new ChannelAttempt(ctx, endpoint, call, resolve, now, statsClock);
    else new ClientAttempt(ctx, endpoint, resolve, now, statsClock);
  });
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
    await waitForChange(ctx, set, Math.min(deadline, waitUntil) - now);
  }
}

/** Waits `ms`, or less when the set changes or the call is cancelled. */
async function waitForChange(ctx: CallContext, set: EndpointSet, ms: number): Promise<void> {
  const change = new AbortController();
  const changed = () => change.abort();
  const removeAbortHook = ctx.onAbort(changed);
  const removeWaiter = set.onNextChange(changed);
  await abortableSleep(ms, change.signal);
  removeAbortHook();
  removeWaiter();
}
