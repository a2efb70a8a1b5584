import type { CallContext } from '../client/context';

/**
 * Runs (the rest of) a call. Resolves when the attempt has finished, with the outcome in
 * ctx.status (a failed call resolves too: gRPC errors are outcomes, not rejections).
 */
export type Next = (ctx: CallContext) => Promise<void>;

/** Wraps the rest of the chain: code before `next(ctx)` runs on the way out, after it on the way back. */
export type Middleware = (next: Next) => Next;
