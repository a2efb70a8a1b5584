import type { ChannelInterface } from '@grpc/grpc-js';
import { type LoadReport, streamLoadReports } from './orca-report';
import type { Endpoint } from './types';

/** A client's endpoint as the middleware sees it: structurally the client's EndpointView. */
export interface AttachedEndpoint extends Endpoint {
  readonly state: string;
}

/** What the middleware sees of the client it is attached to: structurally the client's ClientView. */
export interface AttachedClient {
  endpoints(): readonly AttachedEndpoint[];
  observe(observer: {
    onEndpointAdded?(endpoint: AttachedEndpoint): void;
    onEndpointChanged?(endpoint: AttachedEndpoint): void;
    onEndpointRemoved?(endpoint: AttachedEndpoint): void;
  }): () => void;
}

/** How it reaches an endpoint's own connection: structurally the client's control, which createClient hands to attach. */
export interface EndpointChannelSource {
  channelOf(endpoint: AttachedEndpoint): ChannelInterface | undefined;
}

/** Delay before reopening a report stream that failed: a server restarting should not be hammered. */
const REOPEN_DELAY_MS = 1_000;

/**
 * Keeps one out-of-band report stream open to each ready endpoint of a client, on the endpoint's
 * own channel. A server without the service answers UNIMPLEMENTED once and is not asked again;
 * a stream that fails is reopened after a delay while the endpoint is ready. Returns the
 * function that stops it all (the client calls it on close).
 */
export function followOutOfBand(
  client: AttachedClient,
  channels: EndpointChannelSource,
  periodMs: number,
  record: (endpoint: Endpoint, report: LoadReport) => void,
): () => void {
  const streams = new Map<AttachedEndpoint, () => void>();
  const unsupported = new WeakSet<AttachedEndpoint>();
  const timers = new Map<AttachedEndpoint, NodeJS.Timeout>();
  let stopped = false;

  const stop = (endpoint: AttachedEndpoint) => {
    streams.get(endpoint)?.();
    streams.delete(endpoint);
    const timer = timers.get(endpoint);
    if (timer !== undefined) clearTimeout(timer);
    timers.delete(endpoint);
  };
  const follow = (endpoint: AttachedEndpoint) => {
    if (stopped || streams.has(endpoint) || timers.has(endpoint) || unsupported.has(endpoint)) return;
    if (endpoint.state !== 'ready') return;
    const channel = channels.channelOf(endpoint);
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
    onEndpointChanged: (endpoint) => (endpoint.state === 'shutdown' ? stop(endpoint) : follow(endpoint)),
    onEndpointRemoved: stop,
  });
  for (const endpoint of client.endpoints()) follow(endpoint);
  return () => {
    stopped = true;
    unobserve();
    for (const endpoint of [...streams.keys(), ...timers.keys()]) stop(endpoint);
  };
}
