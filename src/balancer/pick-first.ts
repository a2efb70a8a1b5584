import { booleanOption, checkOptionsObject, functionOption } from '../core/options';
import { EMPTY_PICKER, firstNotExcluded, hasExclusions, liveEndpoints } from './common';
import { murmur3 } from './murmur3';
import type { Balancer, Endpoint, PickInfo, Picker } from './types';

/** Options of pickFirst(). */
export interface PickFirstOptions {
  /**
   * Order the endpoints by a random rank drawn once per client instead of the resolver's order,
   * so that many clients of one list spread over its endpoints (gRPC's `shuffleAddressList`).
   * Default false.
   */
  shuffleAddressList?: boolean;
  /** Uniform source in [0, 1) for the shuffle's seed. Default Math.random. */
  random?: () => number;
}

/**
 * gRPC's pick_first: every call goes to the first available endpoint in the resolver's order
 * (or a per-client shuffled order); the next takes over only while that one is unavailable,
 * ejected or already tried by the call. Useful when one instance should take everything (a
 * primary) or when connections are the scarce resource.
 */
export function pickFirst(options?: PickFirstOptions): Balancer {
  const factory = 'pickFirst';
  checkOptionsObject(factory, options);
  const shuffle = booleanOption(factory, 'options.shuffleAddressList', options?.shuffleAddressList, false);
  const random = functionOption(factory, 'options.random', options?.random, Math.random);
  // One seed per balancer: the order stays the same across rebuilds, so calls do not wander.
  const seed = Math.floor(random() * 0x1_0000_0000) >>> 0;
  return Object.freeze({
    name: 'pick_first',
    build<E extends Endpoint>(endpoints: readonly E[]): Picker<E> {
      const live = liveEndpoints(endpoints).endpoints;
      if (live.length === 0) return EMPTY_PICKER;
      const ordered = shuffle ? live.map((e) => ({ e, rank: murmur3(e.address, seed) })).sort((a, b) => a.rank - b.rank).map(({ e }) => e) : live;
      return new PickFirstPicker(ordered);
    },
  });
}

class PickFirstPicker<E extends Endpoint> implements Picker<E> {
  constructor(private readonly endpoints: readonly E[]) {}

  pick(info: PickInfo): E {
    if (!hasExclusions(info.exclude)) return this.endpoints[0];
    const i = firstNotExcluded(this.endpoints, info.exclude, 0);
    return this.endpoints[i < 0 ? 0 : i];
  }
}
