import type { ClientWritableStream, Metadata, StatusObject } from '@grpc/grpc-js';
import { Writable } from 'node:stream';
import type { AuthContext, StreamSurface, WireCall } from '../core/wire';
import { serviceError, type UnaryCallback } from './call-status';
import type { CallContext } from '../core/context';
import type { CallSurface } from './invoker';
import { StreamPlumbing } from './stream-plumbing';
import { status as Status } from '@grpc/grpc-js';

/** What a stub method returns for client-streaming calls: grpc-js's ClientWritableStream. */
export class ClientStreamCall extends Writable implements ClientWritableStream<unknown>, StreamSurface, CallSurface {
  private readonly plumbing: StreamPlumbing;

  constructor(
    ctx: CallContext,
    readonly serialize: (value: unknown) => Buffer,
    private readonly callback: UnaryCallback,
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

  receiveMessage(): void {
    // The single response arrives with the outcome (finish).
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

  /** Delivers the outcome as grpc-js does: the callback, then 'status'. */
  finish(status: StatusObject, response: unknown): void {
    this.plumbing.finish();
    if (status.code === Status.OK) this.callback(null, response);
    else this.callback(serviceError(status));
    this.emit('status', status);
  }

  override _write(message: unknown, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.plumbing.write(message, encoding, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.plumbing.end();
    callback();
  }

  /**
   * Destroying the stream before the call has ended cancels the call; Node also destroys it once
   * the caller has ended it and every write has gone out, which cancels nothing.
   */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.plumbing.finished && (error || !this.writableFinished)) this.plumbing.cancel();
    callback(error);
  }
}
