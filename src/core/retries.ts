// Which middleware send more than one attempt per call. A client whose chain holds one turns off
// grpc-js's own retries on its channels, so that one layer alone decides how often a request is
// sent, and refuses a second retry layer (a gRPC retryPolicy beside a retry()).

const SENDERS_OF_RETRIES = new WeakSet<object>();

/** Marks `middleware` as one that sends several attempts per call (retry, hedging). Returns it. */
export function sendsRetries<M extends object>(middleware: M): M {
  SENDERS_OF_RETRIES.add(middleware);
  return middleware;
}

/** True when `middleware` was marked by sendsRetries. */
export function isRetryLayer(middleware: unknown): boolean {
  return (typeof middleware === 'function' || (typeof middleware === 'object' && middleware !== null)) && SENDERS_OF_RETRIES.has(middleware);
}
