import { checkOptionsObject } from '../core/options';
import {
  EMPTY_PICKER,
  SinglePicker,
  firstNotExcluded,
  hasExclusions,
  liveEndpoints,
  randomIndex,
  randomSource,
} from './common';
import type { Balancer, Endpoint, PickInfo, Picker } from './types';

/** Options of weightedRoundRobin(). */
export interface WeightedRoundRobinOptions {
  /** Uniform source in [0, 1) for the start position of each picker. Default: a generator seeded from Math.random. */
  random?: () => number;
}

/**
 * Longest cycle kept as a table: 2^20 slots of 4 bytes (4 MB) hold the exact cycle of 10,000
 * endpoints of weight up to 100. Longer cycles are scaled down to about this length, which keeps
 * every share within 1/2^20 of the total.
 */
export const MAX_CYCLE = 1 << 20;

/** Slots scheduled per refill while the first cycle is built: bounds the extra work of any one pick. */
const FILL_CHUNK = 1024;

/** Fractional weights are taken exactly up to this many decimals (0.5 and 1.5 cycle as 1:3). */
const MAX_DECIMALS = 3;

/** Retry path: how many coming slots to look at for an endpoint the call has not tried, before a scan. */
const MAX_LOOKAHEAD = 64;

/**
 * Weighted round robin: each endpoint gets exactly its weight's share of every cycle of
 * Σ weights picks, spread as evenly as possible, for O(1) per pick.
 *
 * The order is the one WF²Q (worst-case fair weighted fair queueing) gives: at each slot, among
 * the endpoints that have not run ahead of their ideal share, the one whose next ideal turn comes
 * first. Every endpoint stays within one pick of its exact share at every point of the cycle, so
 * there are no bursts: with weights 5:1:1 the heavy endpoint never runs more than 3 in a row, the
 * least any order can do (nginx's smooth WRR allows 4).
 *
 * The cycle is computed once per picker, lazily in chunks of slots with two heaps (O(log n) per
 * slot, spread over the first cycle's picks), and kept as a table, so a pick is one array read
 * and no pick ever scans the endpoints. Memory is bounded by MAX_CYCLE slots: weights are reduced
 * by their greatest common divisor, and a cycle that is still longer is scaled down to about
 * MAX_CYCLE slots (shares then exact to within 1/MAX_CYCLE).
 *
 * Each picker starts at a random slot among the first max(n, 1024) of its cycle, so clients
 * built at the same moment, and pickers rebuilt after a change, do not all begin on the same
 * endpoint.
 *
 * Weights: a missing, NaN or non-number weight counts as 1; an endpoint with weight ≤ 0 takes no
 * calls; fractional weights count exactly to 3 decimals. With no endpoint of positive weight,
 * pick returns undefined. A call that excludes addresses (a retry) gets the next endpoint in the
 * cycle it has not tried, without disturbing the order other calls see; when it has tried all,
 * the usual one.
 */
export function weightedRoundRobin(options?: WeightedRoundRobinOptions): Balancer {
  checkOptionsObject('weightedRoundRobin', options);
  const random = randomSource('weightedRoundRobin', options?.random);
  return Object.freeze({
    name: 'weighted_round_robin',
    build<E extends Endpoint>(endpoints: readonly E[]): Picker<E> {
      const live = liveEndpoints(endpoints);
      if (live.endpoints.length === 0) return EMPTY_PICKER;
      if (live.endpoints.length === 1) return new SinglePicker(live.endpoints[0]);
      return new WeightedRoundRobinPicker(live.endpoints, cycleWeights(live.weights), random);
    },
  });
}

class WeightedRoundRobinPicker<E extends Endpoint> implements Picker<E> {
  private readonly cycle: number;
  /** Endpoint index of each slot of the cycle; valid below `filled`. */
  private readonly table: Uint32Array;
  private filled = 0;
  /** The next slot to hand out. */
  private position: number;
  /** Builds the rest of the table; dropped once the cycle is complete. */
  private scheduler: SmoothScheduler | undefined;

  constructor(
    private readonly endpoints: readonly E[],
    weights: Float64Array,
    private readonly random: () => number,
  ) {
    let cycle = 0;
    for (let i = 0; i < weights.length; i++) cycle += weights[i];
    this.cycle = cycle;
    this.table = new Uint32Array(cycle);
    this.scheduler = new SmoothScheduler(weights, cycle);
    const startSpan = Math.min(cycle, Math.max(endpoints.length, FILL_CHUNK));
    this.fill(startSpan);
    this.position = randomIndex(random, startSpan);
  }

  pick(info: PickInfo): E | undefined {
    let position = this.position;
    if (position >= this.filled) this.fill(position + 1);
    const endpoint = this.endpoints[this.table[position]];
    position++;
    this.position = position === this.cycle ? 0 : position;
    const exclude = info.exclude;
    if (!hasExclusions(exclude) || !exclude.has(endpoint.address)) return endpoint;
    return this.pickAvoiding(exclude, endpoint);
  }

  /** Retry path: peeks at the coming slots without taking them, so the cycle stays exact for others. */
  private pickAvoiding(exclude: ReadonlySet<string>, fallback: E): E {
    let position = this.position;
    const limit = Math.min(this.cycle - 1, MAX_LOOKAHEAD);
    for (let step = 0; step < limit; step++) {
      if (position >= this.filled) this.fill(position + 1);
      const candidate = this.endpoints[this.table[position]];
      if (!exclude.has(candidate.address)) return candidate;
      position++;
      if (position === this.cycle) position = 0;
    }
    const i = firstNotExcluded(this.endpoints, exclude, randomIndex(this.random, this.endpoints.length));
    return i < 0 ? fallback : this.endpoints[i];
  }

  private fill(atLeast: number): void {
    const scheduler = this.scheduler;
    if (scheduler === undefined) return;
    const end = Math.min(this.cycle, Math.max(atLeast, this.filled + FILL_CHUNK));
    for (let slot = this.filled; slot < end; slot++) this.table[slot] = scheduler.next(slot);
    this.filled = end;
    if (end === this.cycle) this.scheduler = undefined;
  }
}

/**
 * The integer weights one cycle is built from: fractional weights made whole, reduced by their
 * greatest common divisor (1:1:1 cycles in n slots, 100:200 in 3), scaled down when the cycle
 * would exceed MAX_CYCLE.
 */
export function cycleWeights(weights: Float64Array): Float64Array {
  const n = weights.length;
  const result = new Float64Array(n);
  let scale = 0;
  for (let decimals = 0, factor = 1; decimals <= MAX_DECIMALS; decimals++, factor *= 10) {
    let whole = true;
    for (let i = 0; i < n && whole; i++) {
      const x = weights[i] * factor;
      whole = x >= 0.5 && Math.abs(x - Math.round(x)) <= 1e-9 * x;
    }
    if (whole) {
      scale = factor;
      break;
    }
  }
  if (scale === 0) {
    // Not a short decimal: keep ratios to 1/1000 of the lightest endpoint.
    let min = Infinity;
    for (let i = 0; i < n; i++) min = Math.min(min, weights[i]);
    scale = 10 ** MAX_DECIMALS / min;
  }
  for (let i = 0; i < n; i++) result[i] = Math.max(1, Math.round(weights[i] * scale));
  reduceByGcd(result);
  let total = 0;
  for (let i = 0; i < n; i++) total += result[i];
  if (total > MAX_CYCLE) {
    const shrink = MAX_CYCLE / total;
    for (let i = 0; i < n; i++) result[i] = Math.max(1, Math.round(result[i] * shrink));
    reduceByGcd(result);
  }
  return result;
}

function reduceByGcd(weights: Float64Array): void {
  let divisor = 0;
  for (let i = 0; i < weights.length && divisor !== 1; i++) divisor = gcd(divisor, weights[i]);
  if (divisor > 1) for (let i = 0; i < weights.length; i++) weights[i] /= divisor;
}

function gcd(a: number, b: number): number {
  while (b !== 0) {
    const r = a % b;
    a = b;
    b = r;
  }
  return a;
}

/**
 * WF²Q over one cycle of S = Σ w slots. Endpoint i's k-th turn (k from 0) ideally spans
 * [k/w_i, (k+1)/w_i) of the cycle: it becomes eligible at its start and is due at its end. At
 * slot t the scheduler serves, among the eligible (k/w_i ≤ t/S), the one due first. Eligibility
 * keeps every endpoint from running ahead of its share; since Σ(⌊t·w_i/S⌋ + 1) > t, some
 * endpoint is always eligible, and since none can take turn w_i before slot S, each takes
 * exactly w_i turns per cycle. Comparisons are cross-multiplied integers (below 2^42), so exact.
 */
class SmoothScheduler {
  /** Turns taken so far by each endpoint. */
  private readonly turns: Float64Array;
  /** Eligible endpoints, soonest due first. */
  private readonly eligible: RatioHeap;
  /** Endpoints waiting to become eligible, soonest first. */
  private readonly waiting: RatioHeap;

  constructor(
    private readonly weights: Float64Array,
    private readonly cycle: number,
  ) {
    const n = weights.length;
    this.turns = new Float64Array(n);
    this.eligible = new RatioHeap(n, this.turns, weights, 1);
    this.waiting = new RatioHeap(n, this.turns, weights, 0);
    for (let i = 0; i < n; i++) this.eligible.push(i);
  }

  /** The endpoint of slot `slot`; slots must be asked for in order. */
  next(slot: number): number {
    const { turns, weights, waiting, eligible } = this;
    while (waiting.size > 0) {
      const i = waiting.peek();
      if (turns[i] * this.cycle > slot * weights[i]) break;
      waiting.pop();
      eligible.push(i);
    }
    const chosen = eligible.pop();
    turns[chosen]++;
    waiting.push(chosen);
    return chosen;
  }
}

/**
 * Binary min-heap of endpoint indices keyed by (turns[i] + offset) / weights[i], ties to the
 * lower index so the order is deterministic.
 */
class RatioHeap {
  private readonly items: Uint32Array;
  size = 0;

  constructor(
    capacity: number,
    private readonly turns: Float64Array,
    private readonly weights: Float64Array,
    private readonly offset: number,
  ) {
    this.items = new Uint32Array(capacity);
  }

  peek(): number {
    return this.items[0];
  }

  push(item: number): void {
    const items = this.items;
    let at = this.size++;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (!this.less(item, items[parent])) break;
      items[at] = items[parent];
      at = parent;
    }
    items[at] = item;
  }

  pop(): number {
    const items = this.items;
    const top = items[0];
    const last = items[--this.size];
    const size = this.size;
    let at = 0;
    for (;;) {
      let child = 2 * at + 1;
      if (child >= size) break;
      if (child + 1 < size && this.less(items[child + 1], items[child])) child++;
      if (!this.less(items[child], last)) break;
      items[at] = items[child];
      at = child;
    }
    items[at] = last;
    return top;
  }

  private less(a: number, b: number): boolean {
    const left = (this.turns[a] + this.offset) * this.weights[b];
    const right = (this.turns[b] + this.offset) * this.weights[a];
    return left < right || (left === right && a < b);
  }
}
