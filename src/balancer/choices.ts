import { integerOption } from '../core/options';
import { AliasTable, hasExclusions } from './common';
import type { Endpoint, PickInfo, Picker } from './types';

/** Two choices already take the maximum load from O(log n) to O(log log n); more add little (Envoy's default too). */
export const DEFAULT_CHOICE_COUNT = 2;

/** Up to 4 endpoints, a scan costs about what two random draws do, and always finds the least loaded. */
export const DEFAULT_FULL_SCAN_THRESHOLD = 4;

/** More choices than this approach a scan's cost without its exactness. */
export const MAX_CHOICE_COUNT = 64;

/** The options least connection and peak EWMA share, checked and defaulted. */
export function choiceOptions(
  factory: string,
  options: { choiceCount?: number; fullScanThreshold?: number } | undefined,
): { choiceCount: number; fullScanThreshold: number } {
  return {
    choiceCount: integerOption(factory, 'options.choiceCount', options?.choiceCount, DEFAULT_CHOICE_COUNT, { min: 1, max: MAX_CHOICE_COUNT }),
    fullScanThreshold: integerOption(factory, 'options.fullScanThreshold', options?.fullScanThreshold, DEFAULT_FULL_SCAN_THRESHOLD, { min: 0 }),
  };
}

/**
 * Draws per choice before giving up on finding an endpoint the call has not tried: with half
 * of the weight tried, 8 draws all miss one time in 256; then the picker scans instead.
 */
const MAX_DRAWS = 8;

/**
 * The power of d choices (Mitzenmacher): draw d endpoints at random in proportion to weight and
 * keep the cheapest. O(d) per pick whatever n is, and close to a full scan's balance: the most
 * loaded endpoint is O(log log n) above the mean with two choices, against O(log n / log log n)
 * with one. Sets of at most `fullScanUpTo` endpoints are scanned whole, which is as cheap there
 * and always finds the cheapest. Subclasses define the cost order.
 */
export abstract class BestOfChoicesPicker<E extends Endpoint> implements Picker<E> {
  private readonly sampler: AliasTable;

  constructor(
    protected readonly endpoints: readonly E[],
    weights: Float64Array,
    private readonly random: () => number,
    private readonly choices: number,
    private readonly fullScanUpTo: number,
  ) {
    this.sampler = new AliasTable(weights);
  }

  /** Whether endpoint `a` should take the call rather than endpoint `b`; false on a tie. */
  protected abstract cheaper(a: number, b: number): boolean;

  pick(info: PickInfo): E | undefined {
    const exclude = hasExclusions(info.exclude) ? info.exclude : undefined;
    if (this.endpoints.length <= this.fullScanUpTo) return this.scan(exclude);
    let best = -1;
    for (let choice = 0; choice < this.choices; choice++) {
      const candidate = this.draw(best, exclude);
      if (candidate >= 0 && (best < 0 || this.cheaper(candidate, best))) best = candidate;
    }
    return best >= 0 ? this.endpoints[best] : this.scan(exclude);
  }

  /**
   * One candidate, in proportion to weight, not excluded; -1 when the draws keep hitting tried
   * endpoints. Drawing the current best again is retried once, so two choices compare two
   * endpoints, yet a dominant weight does not cost a string of draws.
   */
  private draw(best: number, exclude: ReadonlySet<string> | undefined): number {
    let redrawn = false;
    for (let attempt = 0; attempt < MAX_DRAWS; attempt++) {
      const i = this.sampler.sample(this.random);
      if (exclude !== undefined && exclude.has(this.endpoints[i].address)) continue;
      if (i === best && !redrawn) {
        redrawn = true;
        continue;
      }
      return i;
    }
    return -1;
  }

  /**
   * The cheapest endpoint not excluded, or the cheapest of all when every one is. Starting at a
   * weighted random endpoint and keeping only strictly cheaper ones spreads ties by weight.
   */
  private scan(exclude: ReadonlySet<string> | undefined): E {
    const n = this.endpoints.length;
    const start = this.sampler.sample(this.random);
    let best = -1;
    for (let step = 0; step < n; step++) {
      const i = start + step < n ? start + step : start + step - n;
      if (exclude !== undefined && exclude.has(this.endpoints[i].address)) continue;
      if (best < 0 || this.cheaper(i, best)) best = i;
    }
    return best >= 0 ? this.endpoints[best] : this.scan(undefined);
  }
}
