import type { EndpointStateLabel } from './names';

/** What metrics reads of an endpoint, and all it may: nothing here changes one. */
export interface EndpointReading {
  readonly address: string;
  /** The connection state: 'idle', 'connecting', 'ready', 'transient_failure' or 'shutdown'. */
  readonly state: string;
  readonly draining: boolean;
  readonly ejected: boolean;
  readonly serving: boolean;
}

/** The grpc_lb_endpoints state of an endpoint, by precedence; none once it is shut down. */
export function stateOf(endpoint: EndpointReading): EndpointStateLabel | undefined {
  if (endpoint.draining) return 'draining';
  switch (endpoint.state) {
    case 'shutdown':
      return undefined;
    case 'idle':
    case 'connecting':
    case 'transient_failure':
      return endpoint.state;
    default:
      if (endpoint.ejected) return 'ejected';
      if (!endpoint.serving) return 'not_serving';
      return 'ready';
  }
}
