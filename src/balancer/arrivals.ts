import type { Endpoint } from './types';
import { rootOf } from './weight-view';

interface Arrival {
  /** When the endpoint last entered its client's picker (clock of the caller). */
  since: number;
  /** The last build it was part of. */
  build: number;
}

/**
 * When each endpoint (re)entered the picker: for slow start, and for the blackout period of load
 * reports. An endpoint that was left out of its client's previous build (it was connecting,
 * ejected, not serving) counts as arriving anew when it is back, as a host passing its health
 * check again does in Envoy.
 *
 * One balancer may serve several clients, each with its own endpoint objects, so there is no
 * single "previous build" to compare with. Each endpoint remembers the last build it was in; the
 * latest such build among the endpoints of a new build is that client's previous one, and an
 * endpoint missing from it was away. Views made by wrappers count as the endpoint they show.
 */
export class Arrivals {
  private readonly arrivals = new WeakMap<Endpoint, Arrival>();
  private builds = 0;

  /** Records a build at `now`; returns when each endpoint arrived, in their order. */
  record(endpoints: readonly Endpoint[], now: number): Float64Array {
    const build = ++this.builds;
    let previous = 0;
    for (const endpoint of endpoints) {
      const arrival = this.arrivals.get(rootOf(endpoint));
      if (arrival !== undefined && arrival.build > previous) previous = arrival.build;
    }
    const since = new Float64Array(endpoints.length);
    for (let i = 0; i < endpoints.length; i++) {
      const endpoint = rootOf(endpoints[i]);
      let arrival = this.arrivals.get(endpoint);
      if (arrival === undefined) {
        arrival = { since: now, build };
        this.arrivals.set(endpoint, arrival);
      } else {
        if (arrival.build < previous) arrival.since = now;
        arrival.build = build;
      }
      since[i] = arrival.since;
    }
    return since;
  }
}
