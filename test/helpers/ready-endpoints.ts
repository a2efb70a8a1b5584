import * as grpc from '@grpc/grpc-js';
import { ClientEndpoint, type EndpointHost } from '../../src/client/endpoint';

/** `n` real ClientEndpoints (10.0.0.1:50051, …) over a channel stand-in that is always READY. */
export function readyEndpoints(n: number): ClientEndpoint[] {
  const channel = { getConnectivityState: () => grpc.connectivityState.READY, watchConnectivityState: () => undefined };
  const host: EndpointHost = {
    makeClient: () => ({ getChannel: () => channel, close: () => undefined }) as unknown as grpc.Client,
    changed: () => undefined,
    closed: () => undefined,
    connectTimeoutMs: Infinity,
    now: Date.now,
    random: Math.random,
  };
  return Array.from({ length: n }, (_, i) => new ClientEndpoint(`10.0.0.${i + 1}:50051`, 1, {}, undefined, host));
}
