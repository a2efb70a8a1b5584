import { checkOptionsObject } from '../core/options';
import {
  AliasTable,
  EMPTY_PICKER,
  SinglePicker,
  hasExclusions,
  liveEndpoints,
  randomSource,
} from './common';
import type { Balancer, Endpoint, PickInfo, Picker } from './types';

/** Options of weightedRandom(). */
export interface WeightedRandomOptions {
  /** Uniform source in [0, 1). Default: a fast generator seeded from Math.random (Math.random allocates per call). */
  random?: () => number;
}

/**
 * Draws before a retry gives up sampling and walks the endpoints: with half the weight excluded,
 * 8 draws all miss one time in 256.
 */
const MAX_DRAWS = 8;

/**
 * Weighted random: each call goes to endpoint i with probability weight_i / Σ weights, drawn
 * independently (no shared position, so no coordination between clients is needed).
 *
 * Walker/Vose alias method: O(n) to build, O(1) per pick, one random number per pick, unbiased
 * (a cumulative table with binary search, the usual alternative, is O(log n)).
 *
 * Weights: a missing, NaN or non-number weight counts as 1; an endpoint with weight ≤ 0 takes no
 * calls. With no endpoint of positive weight, pick returns undefined. A call that excludes
 * addresses is drawn again among the endpoints it has not tried, still in proportion to weight;
 * when it has tried all, among all.
 */
export function weightedRandom(options?: WeightedRandomOptions): Balancer {
  checkOptionsObject('weightedRandom', options);
  const random = randomSource('weightedRandom', options?.random);
  return Object.freeze({
    name: 'weighted_random',
    build<E extends Endpoint>(endpoints: readonly E[]): Picker<E> {
      const live = liveEndpoints(endpoints);
      if (live.endpoints.length === 0) return EMPTY_PICKER;
      if (live.endpoints.length === 1) return new SinglePicker(live.endpoints[0]);
      return new WeightedRandomPicker(live.endpoints, live.weights, random);
    },
  });
}

class WeightedRandomPicker<E extends Endpoint> implements Picker<E> {
  private readonly table: AliasTable;

  constructor(
    private readonly endpoints: readonly E[],
    private readonly weights: Float64Array,
    private readonly random: () => number,
  ) {
    this.table = new AliasTable(weights);
  }

  pick(info: PickInfo): E | undefined {
    const endpoint = this.endpoints[this.table.sample(this.random)];
    const exclude = info.exclude;
    if (!hasExclusions(exclude) || !exclude.has(endpoint.address)) return endpoint;
    return this.pickAvoiding(exclude, endpoint);
  }

  /**
   * Rejection keeps the draw proportional to weight among the endpoints not tried; when the tried
   * ones hold most of the weight, one weighted pass over the rest does the same in O(n).
   */
  private pickAvoiding(exclude: ReadonlySet<string>, fallback: E): E {
    for (let draw = 1; draw < MAX_DRAWS; draw++) {
      const endpoint = this.endpoints[this.table.sample(this.random)];
      if (!exclude.has(endpoint.address)) return endpoint;
    }
    const { endpoints, weights } = this;
    let remaining = 0;
    for (let i = 0; i < endpoints.length; i++) if (!exclude.has(endpoints[i].address)) remaining += weights[i];
    if (remaining === 0) return fallback;
    let target = this.random() * remaining;
    let last = fallback;
    for (let i = 0; i < endpoints.length; i++) {
      if (exclude.has(endpoints[i].address)) continue;
      last = endpoints[i];
      target -= weights[i];
      if (target < 0) return last;
    }
    return last;
  }
}
