import { checkOptionsObject } from '../core/options';
import { BestOfChoicesPicker, choiceOptions } from './choices';
import { EMPTY_PICKER, SinglePicker, liveEndpoints, randomSource } from './common';
import type { Balancer, Endpoint, Picker } from './types';

/** Options of leastConnection(). */
export interface LeastConnectionOptions {
  /** Endpoints drawn per call, the least loaded of which takes it. Default 2. */
  choiceCount?: number;
  /** Sets of at most this many endpoints are scanned whole instead of sampled. Default 4. */
  fullScanThreshold?: number;
  /** Uniform source in [0, 1). Default: a fast generator seeded from Math.random (Math.random allocates per call). */
  random?: () => number;
}


/**
 * Least connection: the call goes to the endpoint with the fewest calls in flight relative to
 * its weight, among `choiceCount` drawn at random in proportion to weight (power of choices, as
 * Envoy's least_request) — O(1) per pick. Unlike Envoy, the draws are weighted and the second
 * differs from the first when it can, and weights also scale the load compared
 * (inflight / weight), so an endpoint of weight 2 is kept at about twice the calls in flight.
 * Each client reads its own in-flight counts, which change the moment it sends, so even a full
 * scan does not herd.
 *
 * Weights: a missing, NaN or non-number weight counts as 1; an endpoint with weight ≤ 0 takes no
 * calls. With no endpoint of positive weight, pick returns undefined. A call that excludes
 * addresses draws among the endpoints it has not tried; when it has tried all, among all.
 */
export function leastConnection(options?: LeastConnectionOptions): Balancer {
  const factory = 'leastConnection';
  checkOptionsObject(factory, options);
  const { choiceCount, fullScanThreshold } = choiceOptions(factory, options);
  const random = randomSource(factory, options?.random);
  return Object.freeze({
    name: 'least_connection',
    build<E extends Endpoint>(endpoints: readonly E[]): Picker<E> {
      const live = liveEndpoints(endpoints);
      if (live.endpoints.length === 0) return EMPTY_PICKER;
      if (live.endpoints.length === 1) return new SinglePicker(live.endpoints[0]);
      return new LeastConnectionPicker(live.endpoints, live.weights, random, choiceCount, fullScanThreshold);
    },
  });
}

class LeastConnectionPicker<E extends Endpoint> extends BestOfChoicesPicker<E> {
  private readonly inverseWeights: Float64Array;

  constructor(endpoints: readonly E[], weights: Float64Array, random: () => number, choiceCount: number, fullScanThreshold: number) {
    super(endpoints, weights, random, choiceCount, fullScanThreshold);
    this.inverseWeights = weights.map((weight) => 1 / weight);
  }

  protected cheaper(a: number, b: number): boolean {
    return this.endpoints[a].inflight * this.inverseWeights[a] < this.endpoints[b].inflight * this.inverseWeights[b];
  }
}
