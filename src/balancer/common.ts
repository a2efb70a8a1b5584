import { functionOption } from '../core/options';
import type { Endpoint, PickInfo, Picker } from './types';

/**
 * The weight a balancer uses. Missing, NaN, +Infinity or a non-number mean "not weighted" and
 * count as 1, so plain objects and registries without weights balance evenly. A weight ≤ 0
 * means "send nothing" (as in Kitex) and the endpoint is left out of the picker; 0 is returned.
 */
export function effectiveWeight(endpoint: Endpoint): number {
  const weight: unknown = endpoint.weight;
  if (typeof weight !== 'number' || Number.isNaN(weight)) return 1;
  if (weight <= 0) return 0;
  return weight === Infinity ? 1 : weight;
}

/** The endpoints that take calls and their weights, in the given order. */
export function liveEndpoints<E extends Endpoint>(endpoints: readonly E[]): { endpoints: E[]; weights: Float64Array } {
  if (!Array.isArray(endpoints)) throw new TypeError('build(endpoints): endpoints must be an array');
  const live: E[] = [];
  const weights: number[] = [];
  for (const endpoint of endpoints) {
    const weight = effectiveWeight(endpoint);
    if (weight > 0) {
      live.push(endpoint);
      weights.push(weight);
    }
  }
  return { endpoints: live, weights: Float64Array.from(weights) };
}

/** Picker of an empty set: every pick is undefined. */
export const EMPTY_PICKER: Picker<never> = Object.freeze({ pick: (_info: PickInfo) => undefined });

/** Picker of a one-endpoint set. Exclusion cannot apply: when the only endpoint is excluded, all are. */
export class SinglePicker<E extends Endpoint> implements Picker<E> {
  constructor(private readonly endpoint: E) {}

  pick(_info: PickInfo): E {
    return this.endpoint;
  }
}

/** Whether the call asks to avoid some addresses at all; lets picks skip the set on first attempts. */
export function hasExclusions(exclude: ReadonlySet<string> | undefined): exclude is ReadonlySet<string> {
  return exclude !== undefined && exclude.size !== 0;
}

/**
 * Index of the first endpoint, from `start` on and wrapping, that is not excluded; -1 when every
 * endpoint is. The slow path of retries, where a linear walk is fine.
 */
export function firstNotExcluded(endpoints: readonly Endpoint[], exclude: ReadonlySet<string>, start: number): number {
  const n = endpoints.length;
  for (let j = 0; j < n; j++) {
    let i = start + j;
    if (i >= n) i -= n;
    if (!exclude.has(endpoints[i].address)) return i;
  }
  return -1;
}

/** An index in [0, n) from a uniform random number, safe against a `random` that returns 1. */
export function randomIndex(random: () => number, n: number): number {
  const i = Math.floor(random() * n);
  return i >= n ? n - 1 : i < 0 ? 0 : i;
}

/**
 * Walker/Vose alias table: samples index i with probability weights[i] / Σ weights using one
 * random number and two array reads, whatever the number of endpoints.
 */
export class AliasTable {
  private readonly n: number;
  private readonly probability: Float64Array;
  private readonly alias: Uint32Array;

  constructor(weights: Float64Array) {
    const n = weights.length;
    this.n = n;
    this.probability = new Float64Array(n);
    this.alias = new Uint32Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) total += weights[i];
    const scaled = new Float64Array(n);
    const small = new Uint32Array(n);
    const large = new Uint32Array(n);
    let smallCount = 0;
    let largeCount = 0;
    for (let i = 0; i < n; i++) {
      scaled[i] = (weights[i] * n) / total;
      if (scaled[i] < 1) small[smallCount++] = i;
      else large[largeCount++] = i;
    }
    while (smallCount > 0 && largeCount > 0) {
      const less = small[--smallCount];
      const more = large[--largeCount];
      this.probability[less] = scaled[less];
      this.alias[less] = more;
      scaled[more] = scaled[more] + scaled[less] - 1;
      if (scaled[more] < 1) small[smallCount++] = more;
      else large[largeCount++] = more;
    }
    // What is left is 1 up to rounding error; treating it as exactly 1 is what keeps the table unbiased.
    while (largeCount > 0) {
      const i = large[--largeCount];
      this.probability[i] = 1;
      this.alias[i] = i;
    }
    while (smallCount > 0) {
      const i = small[--smallCount];
      this.probability[i] = 1;
      this.alias[i] = i;
    }
  }

  sample(random: () => number): number {
    // The integer part chooses the column, the fractional part the coin: one draw serves both.
    const u = random() * this.n;
    let i = Math.floor(u);
    if (i >= this.n) i = this.n - 1;
    else if (i < 0) i = 0;
    return u - i < this.probability[i] ? i : this.alias[i];
  }
}

/**
 * A uniform source in [0, 1): sfc32 (Chris Doty-Humphrey's small fast counting generator, which
 * passes PractRand), seeded from Math.random. The default instead of Math.random itself because
 * V8 returns each Math.random() result as a new heap number, 16 bytes of garbage per pick, while
 * this one's 32-bit integer state stays in registers once the pick is optimized.
 */
export function defaultRandom(): () => number {
  // State in a typed array rather than closure variables: a 32-bit value never needs boxing there.
  const state = new Int32Array(4);
  state[0] = Math.random() * 4294967296;
  state[1] = Math.random() * 4294967296;
  state[2] = Math.random() * 4294967296;
  state[3] = 1;
  const next = (): number => {
    const a = state[0];
    const b = state[1];
    const c = state[2];
    const t = (((a + b) | 0) + state[3]) | 0;
    state[3] = state[3] + 1;
    state[0] = b ^ (b >>> 9);
    state[1] = c + (c << 3);
    state[2] = (((c << 21) | (c >>> 11)) + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  // The recommended warm-up: the first outputs of a fresh state still echo the seed.
  for (let i = 0; i < 12; i++) next();
  return next;
}

/** The `random` option of a balancer, checked; a fresh defaultRandom() when absent. */
export function randomSource(where: string, random: (() => number) | undefined): () => number {
  return functionOption(where, 'options.random', random) ?? defaultRandom();
}

