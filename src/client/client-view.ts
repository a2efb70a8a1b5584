import type { ClientControl, ClientView, EndpointView } from '../core/view';
import type { EndpointSet } from './endpoint-set';
import type { Logger } from '../core/logger';

/** The view and the control of the client of `service` (at `target`) over `set`. */
export function clientViewOf(set: EndpointSet, service: string, target: string, logger: Logger): { view: ClientView; control: ClientControl } {
  const view: ClientView = {
    service,
    target,
    endpoints: () => set.all(),
    observe: (observer) => set.observe(observer),
    lastResolvedAt: () => set.lastResolvedAt,
    logger,
  };
  /** The client's own endpoint behind a view: only the set's endpoints are acted on. */
  const own = (endpoint: EndpointView) => set.all().find((candidate) => candidate === endpoint);
  const control: ClientControl = {
    eject: (endpoint, reason) => own(endpoint)?.setEjected(true, reason),
    restore: (endpoint, reason) => own(endpoint)?.setEjected(false, reason),
    channelOf: (endpoint) => own(endpoint)?.client.getChannel(),
  };
  return { view, control };
}
