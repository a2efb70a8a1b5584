import { status as Status, type ClientUnaryCall, type StatusObject } from '@grpc/grpc-js';
import { EventEmitter } from 'node:events';
import type { AuthContext } from '../core/wire';
import { serviceError, type UnaryCallback } from './call-status';
import type { CallContext } from '../core/context';
import type { CallSurface } from './invoker';

/**
 * What a stub method returns for unary calls: grpc-js's ClientUnaryCall, standing in front of
 * whichever attempt the middleware chain runs.
 */
export class UnaryCall extends EventEmitter implements ClientUnaryCall, CallSurface {
  constructor(
    private readonly ctx: CallContext,
    private readonly callback: UnaryCallback,
  ) {
    super();
  }

  cancel(): void {
    this.ctx.abort(Status.CANCELLED);
  }

  getPeer(): string {
    return this.ctx.wire?.getPeer() ?? this.ctx.endpoint?.address ?? 'unknown';
  }

  getAuthContext(): AuthContext {
    return this.ctx.wire?.getAuthContext() ?? null;
  }

  /** Delivers the outcome the way grpc-js does: metadata, then the callback, then 'status'. */
  finish(status: StatusObject, response: unknown): void {
    if (this.ctx.responseMetadata) this.emit('metadata', this.ctx.responseMetadata);
    if (status.code === Status.OK) this.callback(null, response);
    else this.callback(serviceError(status));
    this.emit('status', status);
  }
}

/** The outcome of an async unary or client-streaming call: its promise settles with it. */
export class UnaryPromise implements CallSurface {
  constructor(
    private readonly resolve: (response: unknown) => void,
    private readonly reject: (error: Error) => void,
  ) {}

  finish(status: StatusObject, response: unknown): void {
    if (status.code === Status.OK) this.resolve(response);
    else this.reject(serviceError(status));
  }
}
