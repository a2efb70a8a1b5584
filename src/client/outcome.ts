import { Metadata, status as Status, type StatusObject } from '@grpc/grpc-js';
import type { EndpointView } from './view';

/**
 * What the latest attempt of a call came to, every field of it in one place. An attempt starts
 * from resetOutcome(), its one reset, made by whoever sends the call's next attempt (retry(),
 * waitForReady; the transport too, before its pick). The transport fills in where the attempt
 * went, the attempt's end how it ended, and hedging copies a winning fork's outcome with
 * adoptOutcome(). CallContext extends this with the call's own state.
 */
export class AttemptOutcome {
  /** The endpoint the latest attempt was sent to; undefined when none could be picked. */
  endpoint: EndpointView | undefined = undefined;
  /** Outcome of the latest attempt; undefined until it has finished. */
  status: StatusObject | undefined = undefined;
  /** The response message of a successful unary or client-streaming call. */
  response: unknown = undefined;
  /** Response headers of the latest attempt, when the server sent any. */
  responseMetadata: Metadata | undefined = undefined;
  /** When the latest attempt started and finished (epoch ms); 0 before. */
  attemptStartedAt = 0;
  attemptEndedAt = 0;

  /** Clears the outcome: another attempt is about to be sent. */
  resetOutcome(): void {
    this.endpoint = undefined;
    this.status = undefined;
    this.response = undefined;
    this.responseMetadata = undefined;
    this.attemptStartedAt = 0;
    this.attemptEndedAt = 0;
  }

  /** Takes `from`'s outcome as this one. */
  adoptOutcome(from: AttemptOutcome): void {
    this.endpoint = from.endpoint;
    this.status = from.status;
    this.response = from.response;
    this.responseMetadata = from.responseMetadata;
    this.attemptStartedAt = from.attemptStartedAt;
    this.attemptEndedAt = from.attemptEndedAt;
  }

  /** Ends the attempt without sending it (a middleware refusing the call): sets the status. */
  fail(code: Status, details: string, metadata: Metadata = new Metadata()): void {
    this.status = { code, details, metadata };
  }

  /** True when the latest attempt finished with OK. */
  get ok(): boolean {
    return this.status !== undefined && this.status.code === Status.OK;
  }
}
