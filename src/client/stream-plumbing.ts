import { status as Status, type StatusObject } from '@grpc/grpc-js';
import type { Readable } from 'node:stream';
import type { AuthContext, WireCall } from '../core/wire';
import { serviceError } from './call-status';
import type { CallContext } from '../core/context';

type WriteCallback = (error?: Error | null) => void;

/**
 * What the three stream kinds share, held by each (they extend different Node streams): the
 * attempt behind the stream once one has been picked, and what the caller asked of the stream
 * before that — a read, a write, the end — replayed onto it at once.
 */
export class StreamPlumbing {
  wire: WireCall | undefined = undefined;
  /** Set once the call has ended: later writes complete at once, a destroy cancels nothing. */
  finished = false;
  private readWanted = false;
  private ended = false;
  private pendingWrite: { message: unknown; callback: WriteCallback; flags: number | undefined } | undefined = undefined;

  constructor(private readonly ctx: CallContext) {}

  bind(wire: WireCall): void {
    this.wire = wire;
    const pending = this.pendingWrite;
    this.pendingWrite = undefined;
    if (pending) wire.write(pending.message, pending.callback, pending.flags);
    if (this.ended) wire.end();
    if (this.readWanted) wire.read();
  }

  read(): void {
    if (this.wire) this.wire.read();
    else this.readWanted = true;
  }

  /** Node's Writable hands over one message at a time, so at most one waits for the attempt. */
  write(message: unknown, encoding: string, callback: WriteCallback): void {
    if (this.finished) return callback();
    // grpc-js takes write flags (grpc.writeFlags) through the encoding argument.
    const flags = Number(encoding);
    const given = Number.isNaN(flags) ? undefined : flags;
    if (this.wire) this.wire.write(message, callback, given);
    else this.pendingWrite = { message, callback, flags: given };
  }

  end(): void {
    this.ended = true;
    this.wire?.end();
  }

  finish(): void {
    this.finished = true;
    const pending = this.pendingWrite;
    this.pendingWrite = undefined;
    pending?.callback();
  }

  cancel(): void {
    this.ctx.abort(Status.CANCELLED);
  }

  peer(): string {
    return this.wire?.getPeer() ?? this.ctx.endpoint?.address ?? 'unknown';
  }

  authContext(): AuthContext {
    return this.wire?.getAuthContext() ?? null;
  }
}

/** Readable side's end of call: end the data, then 'error' for a failure, then 'status' (grpc-js's order). */
export function finishReadable(stream: Readable, status: StatusObject): void {
  stream.push(null);
  // A stream the caller destroyed has been given up on: its failure is no news to anyone.
  if (status.code !== Status.OK && !stream.destroyed) stream.emit('error', serviceError(status));
  stream.emit('status', status);
}
