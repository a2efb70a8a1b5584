import type { ClientReadableStream, Metadata, StatusObject } from '@grpc/grpc-js';
import { Readable } from 'node:stream';
import type { AuthContext, StreamSurface, WireCall } from '../core/wire';
import type { CallContext } from '../core/context';
import type { CallSurface } from './invoker';
import { finishReadable, StreamPlumbing } from './stream-plumbing';

/**
 * What a stub method returns for server-streaming calls: grpc-js's ClientReadableStream. It asks
 * the attempt for a message only when its consumer reads, as grpc-js does (HTTP/2 flow control
 * holds the server back otherwise).
 */
export class ServerStreamCall extends Readable implements ClientReadableStream<unknown>, StreamSurface, CallSurface {
  private readonly plumbing: StreamPlumbing;

  constructor(
    ctx: CallContext,
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

  /** Destroying the stream (or leaving `for await` over it) before the call has ended cancels the call. */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.plumbing.finished) this.plumbing.cancel();
    callback(error);
  }
}
