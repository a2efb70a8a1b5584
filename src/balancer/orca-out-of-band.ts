import type { Channel } from '@grpc/grpc-js';
import { type LoadReport, streamLoadReports } from './orca-report';
import type { Endpoint } from './types';

/** What the middleware sees of the client it is attached to: structurally the client's ClientView. */
export interface AttachedClient {
  endpoints(): readonly Endpoint[];
  observe(observer: {
    onEndpointAdded?(endpoint: Endpoint): void;
    onEndpointChanged?(endpoint: Endpoint): void;
    onEndpointRemoved?(endpoint: Endpoint): void;
  }): () => void;
}

/** Delay before reopening a report stream that failed: a server restarting should not be hammered. */
const REOPEN_DELAY_MS = 1_000;

/**
 * Keeps one out-of-band report stream open to each ready endpoint of a client, on the endpoint's
 * own channel. A server without the service answers UNIMPLEMENTED once and is not asked again;
 * a stream that fails is reopened after a delay while the endpoint is ready. Returns the
 * function that stops it all (the client calls it on close).
 */
export function followOutOfBand(client: AttachedClient, periodMs: number, record: (endpoint: Endpoint, report: LoadReport) => void): () => void {
  const streams = new Map<Endpoint, () => void>();
  const unsupported = new WeakSet<Endpoint>();
  const timers = new Map<Endpoint, NodeJS.Timeout>();
  let stopped = false;

  const stop = (endpoint: Endpoint) => {
    streams.get(endpoint)?.();
    streams.delete(endpoint);
    const timer = timers.get(endpoint);
    if (timer !== undefined) clearTimeout(timer);
    timers.delete(endpoint);
  };
  const follow = (endpoint: Endpoint) => {
    if (stopped || streams.has(endpoint) || timers.has(endpoint) || unsupported.has(endpoint)) return;
    if (stateOfEndpoint(endpoint) !== 'ready') return;
    const channel = channelOf(endpoint);
    if (channel === undefined) return;
    const cancel = streamLoadReports(
      channel,
      periodMs,
      (report) => record(endpoint, report),
      (end) => {
        if (streams.get(endpoint) !== cancel) return;
        streams.delete(endpoint);
        if (end === 'unsupported') unsupported.add(endpoint);
        if (end !== 'failed' || stopped) return;
        const timer = setTimeout(() => {
          timers.delete(endpoint);
          follow(endpoint);
        }, REOPEN_DELAY_MS);
        timer.unref();
        timers.set(endpoint, timer);
      },
    );
    streams.set(endpoint, cancel);
  };
  const unobserve = client.observe({
    onEndpointAdded: follow,
    onEndpointChanged: (endpoint) => (stateOfEndpoint(endpoint) === 'shutdown' ? stop(endpoint) : follow(endpoint)),
    onEndpointRemoved: stop,
  });
  for (const endpoint of client.endpoints()) follow(endpoint);
  return () => {
    stopped = true;
    unobserve();
    for (const endpoint of [...streams.keys(), ...timers.keys()]) stop(endpoint);
  };
}

/** The client's endpoints carry their connection state; plain objects have none. */
function stateOfEndpoint(endpoint: Endpoint): string | undefined {
  const state = (endpoint as { state?: unknown }).state;
  return typeof state === 'string' ? state : undefined;
}

/** The grpc-js channel of a client endpoint, whichever way it exposes it. */
function channelOf(endpoint: Endpoint): Channel | undefined {
  const carrier = endpoint as { channel?: Channel; client?: { getChannel?(): Channel } };
  return carrier.channel ?? carrier.client?.getChannel?.();
}
