import type { Channel, Metadata } from '@grpc/grpc-js';

// The two sides an attempt connects, as types only: the grpc-js call it runs on (WireCall) and
// the call object the caller holds (StreamSurface). The context names both; the attempts
// (attempt.ts and the files beside it) implement and feed them.

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
