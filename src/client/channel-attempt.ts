import { Metadata, status as Status, type InterceptingListener, type StatusObject } from '@grpc/grpc-js';
import type { Clock, MonotonicClock } from '../core/clock';
import type { AuthContext, ChannelCall, WireCall } from '../core/wire';
import { endAttempt, errorMessage } from './attempt';
import type { CallContext } from '../core/context';
import type { ClientEndpoint } from './endpoint';

/**
 * One attempt sent straight onto the endpoint's grpc-js Channel with `createCall`, as grpc-js's
 * own Client does under its interceptor layer, with the same semantics: (de)serialization
 * failures end the call INTERNAL with a cancel; a unary response needs exactly one message
 * (UNIMPLEMENTED otherwise); response streams read one message per request of their consumer.
 * The attempt is its call's listener, so no closure is made per attempt.
 */
export class ChannelAttempt implements InterceptingListener, WireCall {
  private readonly call: ChannelCall;
  private readonly startedAt: number;
  /** The unary response; null until one arrives, as grpc-js counts them. */
  private response: unknown = null;
  private readError: StatusObject | undefined = undefined;
  private ended = false;

  constructor(
    private readonly ctx: CallContext,
    private readonly endpoint: ClientEndpoint,
    call: ChannelCall,
    private readonly done: () => void,
    private readonly now: Clock,
    private readonly statsClock: MonotonicClock,
  ) {
    this.call = call;
    const credentials = ctx.callOptions.credentials;
    if (credentials) call.setCredentials(credentials);
    ctx.inFlight = this;
    ctx.wire = this;
    this.startedAt = statsClock();
    endpoint.begin();
    call.start(ctx.metadata, this);
    switch (ctx.type) {
      case 'unary':
        call.startRead();
        this.send(ctx.request, undefined, undefined);
        call.halfClose();
        return;
      case 'server_stream':
        this.send(ctx.request, undefined, undefined);
        call.halfClose();
        break;
      case 'client_stream':
        call.startRead();
        break;
      default:
    }
    ctx.stream?.bind(this);
  }

  cancel(): void {
    this.call.cancelWithStatus(Status.CANCELLED, 'Cancelled on client');
  }

  getPeer(): string {
    return this.call.getPeer();
  }

  getAuthContext(): AuthContext {
    return this.call.getAuthContext();
  }

  read(): void {
    this.call.startRead();
  }

  write(message: unknown, callback: (error?: Error | null) => void, flags: number | undefined): void {
    this.ctx.messagesSent++;
    this.send(message, callback, flags);
  }

  end(): void {
    this.call.halfClose();
  }

  onReceiveMetadata(metadata: Metadata): void {
    this.ctx.responseMetadata = metadata;
    this.ctx.stream?.receiveMetadata(metadata);
  }

  onReceiveMessage(data: Buffer): void {
    const ctx = this.ctx;
    let message: unknown;
    try {
      message = ctx.definition.responseDeserialize(data);
    } catch (error) {
      this.readError = { code: Status.INTERNAL, details: `Response message parsing error: ${errorMessage(error)}`, metadata: new Metadata() };
      this.call.cancelWithStatus(this.readError.code, this.readError.details);
      return;
    }
    if (ctx.definition.responseStream) {
      ctx.messagesReceived++;
      ctx.stream?.receiveMessage(message);
      return;
    }
    if (this.response !== null) this.call.cancelWithStatus(Status.UNIMPLEMENTED, 'Too many responses received');
    this.response = message;
    if (ctx.type === 'client_stream') this.call.startRead();
  }

  onReceiveStatus(received: StatusObject): void {
    if (this.ended) return;
    this.ended = true;
    let status = received;
    if (this.readError) status = this.readError;
    else if (status.code === Status.OK && this.response === null && !this.ctx.definition.responseStream) {
      status = { code: Status.UNIMPLEMENTED, details: 'No message received', metadata: status.metadata };
    }
    endAttempt(this.ctx, this.endpoint, status, this.response, this.startedAt, this.now, this.statsClock);
    this.done();
  }

  private send(message: unknown, callback: ((error?: Error | null) => void) | undefined, flags: number | undefined): void {
    let serialized: Buffer;
    try {
      serialized = this.ctx.definition.requestSerialize(message);
    } catch (error) {
      this.call.cancelWithStatus(Status.INTERNAL, `Request message serialization failure: ${errorMessage(error)}`);
      // grpc-js leaves the write pending for ever; the stream ends with the status anyway.
      callback?.();
      return;
    }
    this.call.sendMessageWithContext(flags === undefined ? { callback } : { callback, flags }, serialized);
  }
}
