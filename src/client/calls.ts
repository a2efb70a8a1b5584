import {
  Metadata,
  status as Status,
  type ClientDuplexStream,
  type ClientReadableStream,
  type ClientUnaryCall,
  type ClientWritableStream,
  type StatusObject,
} from '@grpc/grpc-js';
import { EventEmitter } from 'node:events';
import { Duplex, Readable, Writable } from 'node:stream';
import { serviceError, type UnaryCallback } from './call-status';
import type { CallContext } from './context';

export { missingOutcome, serviceError, type UnaryCallback } from './call-status';

/**
 * The call objects users get back: the same shapes and events as grpc-js's own, standing in front
 * of whichever attempt the middleware chain runs. Streams are bound to their real grpc-js call
 * once an endpoint has been picked; until then writes wait and reads are simply empty.
 */

/** What a stub method returns for unary calls. */
export class UnaryCall extends EventEmitter implements ClientUnaryCall {
  constructor(private readonly ctx: CallContext) {
    super();
  }

  cancel(): void {
    this.ctx.abort(Status.CANCELLED);
  }

  getPeer(): string {
    return this.ctx.endpoint?.address ?? 'unknown';
  }

  getAuthContext(): null {
    return null;
  }

  /** Delivers the outcome the way grpc-js does: metadata, then the callback, then 'status'. */
  finish(status: StatusObject, response: unknown, callback: UnaryCallback): void {
    if (this.ctx.responseMetadata) this.emit('metadata', this.ctx.responseMetadata);
    if (status.code === Status.OK) callback(null, response);
    else callback(serviceError(status));
    this.emit('status', status);
  }
}

/** A real grpc-js streaming call, as the transport hands it over. */
export type RealStream = EventEmitter & {
  cancel(): void;
  getPeer(): string;
  write?(message: unknown, callback: (error?: Error | null) => void): boolean;
  end?(): void;
  pause?(): void;
  resume?(): void;
  /** Readable streams: true once every message has been read out of it. */
  readonly readableEnded?: boolean;
};

/** The user-facing side of a streaming call. */
export interface StreamProxy {
  /** True once a real call stands behind it. */
  readonly bound: boolean;
  bind(real: RealStream): void;
  /** The call has ended: deliver the outcome. */
  finish(status: StatusObject, response: unknown, callback?: UnaryCallback): void;
}

/** Shared plumbing of the three stream kinds (mixed in by composition: they extend different Node streams). */
class StreamBinding {
  real: RealStream | undefined = undefined;
  pendingWrite: { chunk: unknown; callback: (error?: Error | null) => void } | undefined = undefined;
  ended = false;
  finished = false;

  constructor(
    private readonly ctx: CallContext,
    private readonly owner: EventEmitter & { push?(chunk: unknown): boolean },
  ) {}

  bind(real: RealStream): void {
    this.real = real;
    // grpc-js emits 'error' before 'status'; the proxy reports from the status, so this listener
    // only keeps an unheard 'error' from throwing.
    real.on('error', ignore);
    real.on('metadata', (metadata: Metadata) => this.owner.emit('metadata', metadata));
    if (this.owner.push) {
      real.on('data', (message: unknown) => {
        this.ctx.messagesReceived++;
        if (!this.owner.push!(message)) real.pause?.();
      });
    }
    const pending = this.pendingWrite;
    this.pendingWrite = undefined;
    if (pending) this.write(pending.chunk, pending.callback);
    if (this.ended) real.end?.();
  }

  write(chunk: unknown, callback: (error?: Error | null) => void): void {
    if (this.finished) return callback();
    if (!this.real) {
      this.pendingWrite = { chunk, callback };
      return;
    }
    this.ctx.messagesSent++;
    this.real.write!(chunk, callback);
  }

  end(): void {
    this.ended = true;
    this.real?.end?.();
  }

  finish(): void {
    this.finished = true;
    const pending = this.pendingWrite;
    this.pendingWrite = undefined;
    pending?.callback();
  }

  peer(): string {
    return this.real?.getPeer() ?? this.ctx.endpoint?.address ?? 'unknown';
  }
}

function ignore(): void {}

/** Readable side's end of call: end the data, then 'error' for a failure, then 'status' (grpc-js's order). */
function finishReadable(stream: Readable, status: StatusObject): void {
  stream.push(null);
  // A stream the caller destroyed has been given up on: its failure is no news to anyone.
  if (status.code !== Status.OK && !stream.destroyed) stream.emit('error', serviceError(status));
  stream.emit('status', status);
}

/** The members the three stream kinds share; defined once below and copied onto each class. */
interface StreamCallBase extends StreamProxy {
  cancel(): void;
  getPeer(): string;
  getAuthContext(): null;
}

export interface ServerStreamCall extends StreamCallBase {}
export class ServerStreamCall extends Readable implements ClientReadableStream<unknown> {
  /** @internal */
  readonly binding: StreamBinding;

  constructor(
    /** @internal */ readonly ctx: CallContext,
    readonly deserialize: (chunk: Buffer) => unknown,
  ) {
    super({ objectMode: true });
    this.binding = new StreamBinding(ctx, this);
  }

  finish(status: StatusObject): void {
    this.binding.finish();
    finishReadable(this, status);
  }
}

export interface ClientStreamCall extends StreamCallBase {}
export class ClientStreamCall extends Writable implements ClientWritableStream<unknown> {
  /** @internal */
  readonly binding: StreamBinding;

  constructor(
    /** @internal */ readonly ctx: CallContext,
    readonly serialize: (value: unknown) => Buffer,
  ) {
    super({ objectMode: true });
    this.binding = new StreamBinding(ctx, this);
  }

  finish(status: StatusObject, response: unknown, callback?: UnaryCallback): void {
    this.binding.finish();
    if (callback) {
      if (status.code === Status.OK) callback(null, response);
      else callback(serviceError(status));
    }
    this.emit('status', status);
  }
}

export interface BidiStreamCall extends StreamCallBase {}
export class BidiStreamCall extends Duplex implements ClientDuplexStream<unknown, unknown> {
  /** @internal */
  readonly binding: StreamBinding;

  constructor(
    /** @internal */ readonly ctx: CallContext,
    readonly serialize: (value: unknown) => Buffer,
    readonly deserialize: (chunk: Buffer) => unknown,
  ) {
    super({ objectMode: true });
    this.binding = new StreamBinding(ctx, this);
  }

  finish(status: StatusObject): void {
    this.binding.finish();
    finishReadable(this, status);
  }
}

type Bound = { readonly binding: StreamBinding; readonly ctx: CallContext };

const common: ThisType<Bound> & Omit<StreamCallBase, 'finish'> = {
  get bound(): boolean {
    return this.binding.real !== undefined;
  },
  bind(real: RealStream): void {
    this.binding.bind(real);
  },
  cancel(): void {
    this.ctx.abort(Status.CANCELLED);
  },
  getPeer(): string {
    return this.binding.peer();
  },
  getAuthContext(): null {
    return null;
  },
};

const reading: ThisType<Bound> = {
  _read(): void {
    this.binding.real?.resume?.();
  },
};

const writing: ThisType<Bound> = {
  _write(chunk: unknown, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.binding.write(chunk, callback);
  },
  _final(callback: (error?: Error | null) => void): void {
    this.binding.end();
    callback();
  },
};

/** Destroying a stream (or breaking out of `for await` over it) before the call has ended cancels the call. */
const cancelOnDestroy: ThisType<Bound> = {
  _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.binding.finished) this.ctx.abort(Status.CANCELLED);
    callback(error);
  },
};

/** The same for a client stream, which Node also destroys once the caller has ended it and every write has gone out. */
const cancelOnEarlyDestroy: ThisType<Bound & Writable> = {
  _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.binding.finished && (error || !this.writableFinished)) this.ctx.abort(Status.CANCELLED);
    callback(error);
  },
};

// The classes extend three different Node streams, so the shared members are mixed in.
for (const [target, parts] of [
  [ServerStreamCall, [common, reading, cancelOnDestroy]],
  [ClientStreamCall, [common, writing, cancelOnEarlyDestroy]],
  [BidiStreamCall, [common, reading, writing, cancelOnDestroy]],
] as const) {
  for (const part of parts) Object.defineProperties(target.prototype, Object.getOwnPropertyDescriptors(part));
}

