import type { ChannelInterface } from '@grpc/grpc-js';
import type { Endpoint, EndpointFigures, EndpointInfo } from './endpoint';
import type { Instance } from './instance';
import type { Logger } from './logger';

/**
 * One endpoint as middleware and observers see it: live and read-only. Every member reads the
 * endpoint's current value (no snapshot is made); nothing here changes the endpoint.
 */
export interface EndpointView extends Endpoint, EndpointFigures {
  readonly latencyEwmaMs: number | undefined;
  /** A snapshot, with the time-decayed failure rate. */
  info(): EndpointInfo;
}

/**
 * Follows a client's resolver updates and endpoint changes. `E` is what the endpoints are seen
 * as: read-only views for middleware, the live endpoints inside the client.
 */
export interface ClientViewObserver<E = EndpointView> {
  /** A resolver update was applied (after validation). */
  onResolved?(instances: readonly Instance[]): void;
  /** A resolver reported an error, or sent a list that could not be used. */
  onResolveError?(error: Error): void;
  onEndpointAdded?(endpoint: E): void;
  /** The endpoint has closed for good (after draining). */
  onEndpointRemoved?(endpoint: E): void;
  /** State, availability or weight changed. */
  onEndpointChanged?(endpoint: E): void;
}

/** What middleware and observers may see of a client: its service, its endpoints and their changes. */
export interface ClientView {
  /** The name the resolver resolves. */
  readonly service: string;
  /** The target as configured, for messages and labels (never holds credentials). */
  readonly target: string;
  /** The endpoints from the resolver's list plus those still draining. */
  endpoints(): readonly EndpointView[];
  /** Follows resolver updates and endpoint changes; returns a function that stops following. */
  observe(observer: ClientViewObserver): () => void;
  /** Epoch ms of the last usable resolver answer, 0 before the first. */
  lastResolvedAt(): number;
  /** The client's logger, for middleware that tells of what it does (breaker transitions). */
  readonly logger?: Logger;
}

/** Moves the client's endpoints out of the picker and back: what a circuit breaker may do. */
export interface EndpointEjection {
  /** Keeps one of the client's endpoints out of the picker; `reason`, when given, is logged. */
  eject(endpoint: EndpointView, reason?: string): void;
  /** Lets an ejected endpoint back into the picker; `reason`, when given, is logged. */
  restore(endpoint: EndpointView, reason?: string): void;
}

/** Opens out-of-band streams on an endpoint's own connection (ORCA load reports). */
export interface EndpointChannels {
  /** The grpc-js channel of one of the client's endpoints; undefined for an endpoint it does not know. */
  channelOf(endpoint: EndpointView): ChannelInterface | undefined;
}

/**
 * What a client lets the middleware attached to it do to its endpoints, handed to each
 * middleware's `attach` (grpc-js's ChannelControlHelper is the model): no more than a circuit
 * breaker and out-of-band load reports need. The calls themselves only see the ClientView.
 */
export interface ClientControl extends EndpointEjection, EndpointChannels {}
