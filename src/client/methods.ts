import { Metadata, type MethodDefinition, type ServiceDefinition } from '@grpc/grpc-js';
import type { AsyncCallOptions, LbCallOptions } from './types';
import type { UnaryCallback } from './call-status';
import { BidiStreamCall } from './bidi-stream-call';
import { ClientStreamCall } from './client-stream-call';
import { ServerStreamCall } from './server-stream-call';
import { UnaryCall, UnaryPromise } from './unary-call';
import type { CallContext, CallType } from '../core/context';
import { isMetadata } from './grpc-copy';
import type { CallSurface, Invoker } from './invoker';

type AnyFunction = (...args: any[]) => any;

/** The stub's methods, by name (and by original name), in the callback form and the async form. */
export interface MethodTable {
  readonly methods: Record<string, AnyFunction>;
  readonly asyncMethods: Record<string, AnyFunction>;
}

const EMPTY_OPTIONS: LbCallOptions = Object.freeze({});

export function callTypeOf(def: MethodDefinition<unknown, unknown>): CallType {
  if (def.requestStream) return def.responseStream ? 'bidi_stream' : 'client_stream';
  return def.responseStream ? 'server_stream' : 'unary';
}

/** grpc-js's argument rules: (metadata?, options?, callback?) in that order, each optional. */
function splitArguments(a: unknown, b: unknown, c: unknown): { metadata: Metadata; options: LbCallOptions; callback: UnaryCallback | undefined } {
  let metadata: Metadata | undefined;
  let options: LbCallOptions | undefined;
  let callback: UnaryCallback | undefined;
  let next = a;
  if (isMetadata(next)) {
    metadata = next;
    next = b;
    b = c;
    c = undefined;
  }
  if (next !== null && typeof next === 'object' && !isMetadata(next)) {
    options = next as LbCallOptions;
    next = b;
    b = c;
    c = undefined;
  }
  if (typeof next === 'function') {
    callback = next as UnaryCallback;
    next = b;
  }
  if ((next !== undefined && next !== null) || (c !== undefined && c !== null)) {
    throw new TypeError('Incorrect arguments passed: expected (request?, metadata?, options?, callback?)');
  }
  return { metadata: metadata ?? new Metadata(), options: options ?? EMPTY_OPTIONS, callback };
}

/** Builds the client's methods for every method of `service`, each starting its calls on `invoker`. */
export function methodTable(service: ServiceDefinition, invoker: Invoker): MethodTable {
  const methods: Record<string, AnyFunction> = {};
  const asyncMethods: Record<string, AnyFunction> = {};
  for (const [name, def] of Object.entries(service) as [string, MethodDefinition<unknown, unknown>][]) {
    const type = callTypeOf(def);
    const context = (request: unknown, metadata: Metadata, options: LbCallOptions) =>
      invoker.context(def, type, request, metadata, options, options.deadline, options.hashKey);
    const asyncContext = (request: unknown, opts: AsyncCallOptions) =>
      invoker.context(def, type, request, opts.metadata ?? new Metadata(), opts.callOptions ?? EMPTY_OPTIONS, opts.deadline ?? (opts.callOptions?.deadline as Date | number | undefined), opts.hashKey);
    let method: AnyFunction;
    let asyncMethod: AnyFunction;
    switch (type) {
      case 'unary':
        method = (request: unknown, a?: unknown, b?: unknown, c?: unknown) => {
          const { metadata, options, callback } = splitArguments(a, b, c);
          if (!callback) throw new TypeError(`${name}: a unary call needs a callback (or use client.async.${name})`);
          const ctx = invoker.context(def, 'unary', request, metadata, options, options.deadline, options.hashKey);
          const call = new UnaryCall(ctx, callback);
          void invoker.run(ctx, call, options.signal);
          return call;
        };
        asyncMethod = (request: unknown, opts: AsyncCallOptions = {}) =>
          new Promise((resolve, reject) => {
            void invoker.run(asyncContext(request, opts), new UnaryPromise(resolve, reject), opts.signal);
          });
        break;
      case 'server_stream':
        method = (request: unknown, a?: unknown, b?: unknown) => {
          const args = splitArguments(a, b, undefined);
          const ctx = context(request, args.metadata, args.options);
          return start(invoker, new ServerStreamCall(ctx, def.responseDeserialize), ctx, args.options.signal);
        };
        asyncMethod = (request: unknown, opts: AsyncCallOptions = {}) => {
          const ctx = asyncContext(request, opts);
          return start(invoker, new ServerStreamCall(ctx, def.responseDeserialize), ctx, opts.signal);
        };
        break;
      case 'client_stream':
        method = (a?: unknown, b?: unknown, c?: unknown) => {
          const args = splitArguments(a, b, c);
          if (!args.callback) throw new TypeError(`${name}: a client-streaming call needs a callback (or use client.async.${name})`);
          const ctx = context(undefined, args.metadata, args.options);
          return start(invoker, new ClientStreamCall(ctx, def.requestSerialize, args.callback), ctx, args.options.signal);
        };
        asyncMethod = (requests: Iterable<unknown> | AsyncIterable<unknown>, opts: AsyncCallOptions = {}) =>
          new Promise((resolve, reject) => {
            const ctx = asyncContext(undefined, opts);
            const call = new ClientStreamCall(ctx, def.requestSerialize, (error, response) => (error ? reject(error) : resolve(response)));
            void pump(requests, start(invoker, call, ctx, opts.signal));
          });
        break;
      default:
        method = (a?: unknown, b?: unknown) => {
          const args = splitArguments(a, b, undefined);
          const ctx = context(undefined, args.metadata, args.options);
          return start(invoker, new BidiStreamCall(ctx, def.requestSerialize, def.responseDeserialize), ctx, args.options.signal);
        };
        asyncMethod = (requests: Iterable<unknown> | AsyncIterable<unknown>, opts: AsyncCallOptions = {}) => {
          const ctx = asyncContext(undefined, opts);
          const call = start(invoker, new BidiStreamCall(ctx, def.requestSerialize, def.responseDeserialize), ctx, opts.signal);
          void pump(requests, call);
          return call;
        };
    }
    methods[name] = method;
    asyncMethods[name] = asyncMethod;
    // grpc-js also offers each method under its original (camelCase) name.
    const original = (def as { originalName?: string }).originalName;
    if (original && !(original in methods)) {
      methods[original] = method;
      asyncMethods[original] = asyncMethod;
    }
  }
  return { methods, asyncMethods };
}

/** Starts a call whose object the caller gets back at once. */
function start<C extends CallSurface>(invoker: Invoker, call: C, ctx: CallContext, signal: AbortSignal | undefined): C {
  void invoker.run(ctx, call, signal);
  return call;
}

/**
 * Writes `requests` into a client stream, ending it after the last. Stops pulling from the source
 * as soon as the call has ended (a failure, a cancel): the iterator is closed, not drained.
 */
async function pump(requests: Iterable<unknown> | AsyncIterable<unknown>, call: ClientStreamCall | BidiStreamCall): Promise<void> {
  let ended = false;
  const onStatus = () => (ended = true);
  call.once('status', onStatus);
  try {
    for await (const request of requests) {
      if (ended) return;
      if (!call.write(request)) await drainOrEnd(call);
      if (ended) return;
    }
    call.end();
  } catch {
    // The request source failed: the call cannot be completed, so it is cancelled, which the
    // caller sees as CANCELLED.
    call.cancel();
  } finally {
    call.off('status', onStatus);
  }
}

function drainOrEnd(call: ClientStreamCall | BidiStreamCall): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.off('drain', done);
      call.off('status', done);
      resolve();
    };
    call.on('drain', done);
    call.on('status', done);
  });
}
