import type { CallContext } from './context';
import type { ClientControl, ClientView, EndpointView } from './view';

/**
 * Runs (the rest of) a call. Resolves when the attempt has finished, with the outcome in
 * ctx.status (a failed call resolves too: gRPC errors are outcomes, not rejections).
 */
export type Next = (ctx: CallContext) => Promise<void>;

/**
 * Wraps the rest of the chain: code before `next(ctx)` runs on the way out, after it on the way
 * back. A middleware may also carry hooks:
 * - `attach`, which each client it is given to calls once at creation (to watch that client's
 *   endpoints, e.g. for metrics), with the client's control (to eject an endpoint, or open a
 *   stream on its connection); what attach returns is called when the client closes;
 * - `picked`, told of every attempt's endpoint just before the attempt is sent, also when the
 *   pick had to wait (a circuit breaker counts its half-open probes there).
 */
export type Middleware = ((next: Next) => Next) & {
  attach?(client: ClientView, control?: ClientControl): (() => void) | void;
  picked?(ctx: CallContext, endpoint: EndpointView): void;
};
