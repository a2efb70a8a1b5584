import { Metadata, status as Status, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import type { CallContext } from '../core/context';

/** The callback of unary and client-streaming calls, as grpc-js calls it. */
export type UnaryCallback = (error: ServiceError | null, response?: unknown) => void;

/** Builds the error grpc-js would give for `status`. */
export function serviceError(status: StatusObject): ServiceError {
  const error = new Error(`${status.code} ${Status[status.code]}: ${status.details}`) as ServiceError;
  error.code = status.code;
  error.details = status.details;
  error.metadata = status.metadata;
  return error;
}

/** A status for a call that ended without one (a middleware that neither called next nor failed the call). */
export function missingOutcome(ctx: CallContext): StatusObject {
  return {
    code: Status.INTERNAL,
    details: `call to ${ctx.method} on "${ctx.service}" ended without an outcome: a middleware returned without calling next or ctx.fail()`,
    metadata: new Metadata(),
  };
}
