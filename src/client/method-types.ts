// The types of a load-balanced client's methods, derived from the stub's own method types so that
// every kind of generated stub — proto-loader-gen-types, ts-proto, grpc_tools_node_protoc_ts —
// gives exact request and response types: a unary call resolves to the response type (never
// `| undefined`), stream requests are the request type, and the callback form takes this
// library's call options (hashKey, signal). Stub methods are overloaded; TypeScript infers from
// the last overload, which every generator makes carry the request first and, for calls with a
// response callback, the callback last.

import type {
  CallOptions,
  Client,
  ClientDuplexStream,
  ClientReadableStream,
  ClientUnaryCall,
  ClientWritableStream,
  Metadata,
  ServiceError,
} from '@grpc/grpc-js';

/** Per-call options beyond grpc-js's own, accepted by every method. */
export interface LbCallOptions extends CallOptions {
  /** Consistent-hash key of this call. */
  hashKey?: string;
  /** Cancels the call when aborted. */
  signal?: AbortSignal;
}

/** Options of the async/await methods. */
export interface AsyncCallOptions {
  /** Absolute deadline (Date or epoch ms). */
  deadline?: Date | number;
  metadata?: Metadata;
  hashKey?: string;
  signal?: AbortSignal;
  /** Further grpc-js call options (interceptors, credentials, …). */
  callOptions?: CallOptions;
}

/** The callback of a unary or client-streaming call: the response on success. */
export type ResponseCallback<R> = (error: ServiceError | null, response: R) => void;

type AnyFunction = (...args: any[]) => any;
type RequestOf<F> = F extends (request: infer Q, ...rest: any[]) => any ? Q : never;
/** The response type a callback-taking method delivers; grpc-js's requestCallback makes it optional, a success always has one. */
type CallbackResponseOf<F> = F extends (...args: infer A) => any ? (A extends [...any[], (error: any, response: infer R) => any] ? Exclude<R, undefined> : never) : never;

/** What kind of call a stub method makes, told by what it returns. */
export type MethodKind<F> = F extends (...args: any[]) => ClientDuplexStream<any, any>
  ? 'bidi_stream'
  : F extends (...args: any[]) => ClientWritableStream<any>
    ? 'client_stream'
    : F extends (...args: any[]) => ClientReadableStream<any>
      ? 'server_stream'
      : F extends (...args: any[]) => ClientUnaryCall
        ? 'unary'
        : never;

export interface UnaryMethod<Q, R> {
  (request: Q, metadata: Metadata, options: LbCallOptions, callback: ResponseCallback<R>): ClientUnaryCall;
  (request: Q, metadata: Metadata, callback: ResponseCallback<R>): ClientUnaryCall;
  (request: Q, options: LbCallOptions, callback: ResponseCallback<R>): ClientUnaryCall;
  (request: Q, callback: ResponseCallback<R>): ClientUnaryCall;
}

export interface ServerStreamMethod<Q, R> {
  (request: Q, metadata?: Metadata, options?: LbCallOptions): ClientReadableStream<R>;
  (request: Q, options?: LbCallOptions): ClientReadableStream<R>;
}

export interface ClientStreamMethod<Q, R> {
  (metadata: Metadata, options: LbCallOptions, callback: ResponseCallback<R>): ClientWritableStream<Q>;
  (metadata: Metadata, callback: ResponseCallback<R>): ClientWritableStream<Q>;
  (options: LbCallOptions, callback: ResponseCallback<R>): ClientWritableStream<Q>;
  (callback: ResponseCallback<R>): ClientWritableStream<Q>;
}

export interface BidiStreamMethod<Q, R> {
  (metadata?: Metadata, options?: LbCallOptions): ClientDuplexStream<Q, R>;
  (options?: LbCallOptions): ClientDuplexStream<Q, R>;
}

/** A stub method as the load-balanced client offers it. */
export type LbMethod<F> = F extends (...args: any[]) => ClientDuplexStream<infer Q, infer R>
  ? BidiStreamMethod<Q, R>
  : F extends (...args: any[]) => ClientWritableStream<infer Q>
    ? ClientStreamMethod<Q, CallbackResponseOf<F>>
    : F extends (...args: any[]) => ClientReadableStream<infer R>
      ? ServerStreamMethod<RequestOf<F>, R>
      : F extends (...args: any[]) => ClientUnaryCall
        ? UnaryMethod<RequestOf<F>, CallbackResponseOf<F>>
        : F;

/** The async/await form of a stub method: unary and client streams resolve, server and bidi streams iterate. */
export type AsyncMethod<F> = F extends (...args: any[]) => ClientDuplexStream<infer Q, infer R>
  ? (requests: Iterable<Q> | AsyncIterable<Q>, options?: AsyncCallOptions) => AsyncIterable<R>
  : F extends (...args: any[]) => ClientWritableStream<infer Q>
    ? (requests: Iterable<Q> | AsyncIterable<Q>, options?: AsyncCallOptions) => Promise<CallbackResponseOf<F>>
    : F extends (...args: any[]) => ClientReadableStream<infer R>
      ? (request: RequestOf<F>, options?: AsyncCallOptions) => AsyncIterable<R>
      : F extends (...args: any[]) => ClientUnaryCall
        ? (request: RequestOf<F>, options?: AsyncCallOptions) => Promise<CallbackResponseOf<F>>
        : never;

/** The keys of T that are RPC methods (grpc-js's own Client methods excluded). */
export type MethodKeys<T> = {
  [K in Exclude<keyof T, keyof Client>]: T[K] extends AnyFunction ? ([MethodKind<T[K]>] extends [never] ? never : K) : never;
}[Exclude<keyof T, keyof Client>];

/** A stub method with the signature grpc-js gives one of this kind, for a method definition with literal stream flags. */
type StubMethodOf<M> = M extends {
  requestStream: infer RS;
  responseStream: infer SS;
  requestSerialize: (value: infer Q) => Buffer;
  responseDeserialize: (bytes: Buffer) => infer R;
}
  ? boolean extends RS
    ? never
    : boolean extends SS
      ? never
      : RS extends true
        ? SS extends true
          ? (options?: CallOptions) => ClientDuplexStream<Q, R>
          : (callback: ResponseCallback<R>) => ClientWritableStream<Q>
        : SS extends true
          ? (request: Q, options?: CallOptions) => ClientReadableStream<R>
          : (request: Q, callback: ResponseCallback<R>) => ClientUnaryCall
  : never;

/**
 * What a client made from a service definition looks like when the definition is typed method by
 * method (ts-proto's `EchoService`, grpc_tools_node_protoc_ts's `IEchoService`): a stub with those
 * methods. A plain `ServiceDefinition`, or one whose stream flags are not literal types (as
 * proto-loader's), gives `unknown`: an untyped client.
 */
export type StubOfDefinition<D> = [TypedMethods<D>] extends [never] ? unknown : { [K in TypedMethods<D>]: StubMethodOf<D[K]> };

/** The named keys (index signatures left out) of a definition whose methods are typed. */
type TypedMethods<D> = keyof {
  [K in keyof D as string extends K ? never : number extends K ? never : [StubMethodOf<D[K]>] extends [never] ? never : K]: 0;
};
