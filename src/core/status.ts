import { status as Status } from '@grpc/grpc-js';

/** Status codes that say something about the endpoint rather than the request. */
export function isEndpointFailure(code: Status): boolean {
  return (
    code === Status.UNAVAILABLE ||
    code === Status.DEADLINE_EXCEEDED ||
    code === Status.INTERNAL ||
    code === Status.UNKNOWN ||
    code === Status.RESOURCE_EXHAUSTED ||
    code === Status.DATA_LOSS
  );
}
