// The gauges computed whole at scrape time from the attached clients (their `collect`): nothing
// per call. A closed client's service disappears from them.

import type { Gauge } from '../prom-client-lazy';
import { stateOf, type EndpointReading } from './endpoint-reading';
import { ENDPOINT_STATES, redactTarget, type EndpointStateLabel } from './names';

/** What the gauges read of a client. */
export interface ClientReading {
  readonly service: string;
  readonly target: string;
  endpoints(): readonly EndpointReading[];
  /** Epoch ms of the last usable resolver answer, 0 before the first. */
  lastResolvedAt(): number;
}

/**
 * grpc_lb_endpoints: every state of a live service is present, zeros included, so "no ready
 * endpoints" is a value, not a missing series.
 */
export function setEndpointStates(gauge: Gauge<string>, clients: Iterable<ClientReading>): void {
  const counts = new Map<string, Record<EndpointStateLabel, number>>();
  for (const client of clients) {
    let byState = counts.get(client.service);
    if (byState === undefined) counts.set(client.service, (byState = zeroStates()));
    for (const endpoint of client.endpoints()) {
      const state = stateOf(endpoint);
      if (state) byState[state]++;
    }
  }
  gauge.reset();
  for (const [service, byState] of counts) {
    for (const state of ENDPOINT_STATES) gauge.set({ lb_service: service, state }, byState[state]);
  }
}

function zeroStates(): Record<EndpointStateLabel, number> {
  return { draining: 0, idle: 0, connecting: 0, transient_failure: 0, ejected: 0, not_serving: 0, ready: 0 };
}

/** grpc_lb_resolution_age_seconds: the oldest among the clients of a service, +Inf before its first answer. */
export function setResolutionAges(gauge: Gauge<string>, clients: Iterable<ClientReading>, now: number): void {
  const ages = new Map<string, number>();
  for (const client of clients) {
    const at = client.lastResolvedAt();
    const age = at > 0 ? Math.max(0, now - at) / 1000 : Infinity;
    ages.set(client.service, Math.max(ages.get(client.service) ?? 0, age));
  }
  gauge.reset();
  for (const [service, age] of ages) gauge.set({ lb_service: service }, age);
}

/** grpc_lb_clients: by service and target, the target without credentials or query. */
export function setClients(gauge: Gauge<string>, clients: Iterable<ClientReading>): void {
  gauge.reset();
  for (const client of clients) gauge.inc({ lb_service: client.service, target: redactTarget(client.target) });
}
