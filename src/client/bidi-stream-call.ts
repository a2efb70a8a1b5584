import type { ClientDuplexStream, Metadata, StatusObject } from '@grpc/grpc-js';
import { Duplex } from 'node:stream';
import type { AuthContext, StreamSurface, WireCall } from '../core/wire';
import type { CallContext } from '../core/context';
import type { CallSurface } from './invoker';
import { finishReadable, StreamPlumbing } from './stream-plumbing';

/** What a stub method returns for bidi-streaming calls: grpc-js's ClientDuplexStream. Reads as ServerStreamCall does. */
export class BidiStreamCall extends Duplex implements ClientDuplexStream<unknown, unknown>, StreamSurface, CallSurface {
  private readonly plumbing: StreamPlumbing;

  constructor(
    ctx: CallContext,
    readonly serialize: (value: unknown) => Buffer,
    readonly deserialize: (chunk: Buffer) => unknown,
  ) {
    super({ objectMode: true });
    this.plumbing = new StreamPlumbing(ctx);
    ctx.stream = this;
  }

  get bound(): boolean {
    return this.plumbing.wire !== undefined;
  }

  bind(wire: WireCall): void {
    this.plumbing.bind(wire);
  }

  receiveMetadata(metadata: Metadata): void {
    this.emit('metadata', metadata);
  }

  receiveMessage(message: unknown): void {
    this.push(message);
  }

  cancel(): void {
    this.plumbing.cancel();
  }

  getPeer(): string {
    return this.plumbing.peer();
  }

  getAuthContext(): AuthContext {
    return this.plumbing.authContext();
  }

  finish(status: StatusObject): void {
    this.plumbing.finish();
    finishReadable(this, status);
  }

  override _read(): void {
    this.plumbing.read();
  }

  override _write(message: unknown, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.plumbing.write(message, encoding, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.plumbing.end();
    callback();
  }

  /** Destroying the stream (or leaving `for await` over it) before the call has ended cancels the call. */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.plumbing.finished) this.plumbing.cancel();
    callback(error);
  }
}
