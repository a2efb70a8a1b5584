// The call objects users get back — the same shapes and events as grpc-js's own, standing in
// front of whichever attempt the middleware chain runs — one kind per file.
export { serviceError, missingOutcome, type UnaryCallback } from './call-status';
export { UnaryCall, UnaryPromise } from './unary-call';
export { ServerStreamCall } from './server-stream-call';
export { ClientStreamCall } from './client-stream-call';
export { BidiStreamCall } from './bidi-stream-call';
