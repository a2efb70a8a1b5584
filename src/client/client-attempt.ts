import type { CallOptions, ClientReadableStream, ClientWritableStream, Metadata, ServiceError, StatusObject } from '@grpc/grpc-js';
import type { EventEmitter } from 'node:events';
import type { Clock, MonotonicClock } from '../core/clock';
import type { AuthContext, WireCall } from '../core/wire';
import { endAttempt } from './attempt';
import type { CallContext } from '../core/context';
import type { ClientEndpoint } from './endpoint';

/** A grpc-js call object of any kind, as its Client returns it. */
type SurfaceCall = EventEmitter & {
  cancel(): void;
  getPeer(): string;
  getAuthContext?(): AuthContext;
};

/**
 * One attempt sent through grpc-js's own Client, for calls with interceptors, interceptor
 * providers or a call-invocation transformer: grpc-js runs them exactly as on a plain stub.
 * Response messages are handed on one per read, as on the direct path.
 */
export class ClientAttempt implements WireCall {
  private readonly call: SurfaceCall;
  /** The call's response stream, for calls whose server streams. */
  private readonly reader: ClientReadableStream<unknown> | undefined;
  /** The call's request stream, for calls whose client streams. */
  private readonly writer: ClientWritableStream<unknown> | undefined;

  constructor(private readonly ctx: CallContext, endpoint: ClientEndpoint, done: () => void, now: Clock, statsClock: MonotonicClock) {
    const { definition: def, metadata } = ctx;
    const client = endpoint.client;
    const options = grpcOptions(ctx);
    let error: ServiceError | null = null;
    let response: unknown;
    const callback = (err: ServiceError | null, value?: unknown) => {
      error = err;
      response = value;
    };
    const startedAt = statsClock();
    endpoint.begin();
    let call: SurfaceCall;
    let reader: ClientReadableStream<unknown> | undefined;
    switch (ctx.type) {
      case 'unary':
        call = client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, ctx.request, metadata, options, callback);
        break;
      case 'server_stream':
        call = reader = client.makeServerStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, ctx.request, metadata, options);
        break;
      case 'client_stream':
        call = this.writer = client.makeClientStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, metadata, options, callback);
        break;
      default:
        call = reader = this.writer = client.makeBidiStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, metadata, options);
    }
    this.call = call;
    this.reader = reader;
    ctx.inFlight = this;
    ctx.wire = this;
    const stream = ctx.stream;
    call.on('metadata', (received: Metadata) => {
      ctx.responseMetadata = received;
      stream?.receiveMetadata(received);
    });
    if (reader) {
      // grpc-js emits 'error' before 'status'; the outcome is taken from the status, so this
      // listener only keeps an unheard 'error' from throwing.
      reader.on('error', ignore);
      reader.on('data', (message: unknown) => {
        ctx.messagesReceived++;
        reader.pause();
        stream?.receiveMessage(message);
      });
      reader.pause();
    }
    call.on('status', (status: StatusObject) => {
      // The callback's error is the truth: grpc-js turns an OK status without a message into one.
      endAttempt(ctx, endpoint, error ?? status, response, startedAt, now, statsClock);
      // Replies not read yet may still sit in the grpc-js stream: the call ends for the caller
      // only once they have been handed on.
      if (!reader || reader.readableEnded || ctx.aborted) return done();
      let removeAbortHook = (): void => undefined;
      const passed = () => {
        call.off('end', passed);
        call.off('close', passed);
        removeAbortHook();
        done();
      };
      call.on('end', passed);
      call.on('close', passed);
      removeAbortHook = ctx.onAbort(passed);
    });
    stream?.bind(this);
  }

  cancel(): void {
    this.call.cancel();
  }

  getPeer(): string {
    return this.call.getPeer();
  }

  getAuthContext(): AuthContext {
    return this.call.getAuthContext?.() ?? null;
  }

  read(): void {
    this.reader?.resume();
  }

  write(message: unknown, callback: (error?: Error | null) => void, flags: number | undefined): void {
    this.ctx.messagesSent++;
    this.writer?.write(message, flags === undefined ? undefined : String(flags), callback);
  }

  end(): void {
    this.writer?.end();
  }
}

/** The caller's grpc-js options for this attempt: its deadline, without our own fields. */
function grpcOptions(ctx: CallContext): CallOptions {
  const { deadline: _deadline, hashKey: _hashKey, signal: _signal, ...rest } = ctx.callOptions as CallOptions & { hashKey?: unknown; signal?: unknown };
  const deadline = ctx.effectiveDeadline;
  return deadline === Infinity ? rest : { ...rest, deadline };
}

function ignore(): void {}
