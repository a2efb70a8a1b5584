import { checkOptionsObject, durationOption, numberOption } from '../core/options';
import { Arrivals } from './arrivals';
import { EMPTY_PICKER, effectiveWeight } from './common';
import { RefreshSchedule, clockOption } from './refresh';
import type { Balancer, Endpoint, PickInfo, Picker } from './types';
import { WeightView, quantizeWeight } from './weight-view';
import { weightedRoundRobin } from './weighted-round-robin';

/** Options of slowStart(). */
export interface SlowStartOptions {
  /** The balancer whose weights are ramped: weighted round robin, weighted random, least connection… Default weightedRoundRobin(). */
  balancer?: Balancer;
  /** How long a new or recovered endpoint takes to reach its full weight, in ms. Default 30 s. */
  windowMs?: number;
  /** Shape of the ramp: 1 is linear, above 1 rises faster at first, below 1 slower (Envoy's aggression). Default 1. */
  aggression?: number;
  /** The weight an arriving endpoint starts at, in percent of its own weight (Envoy's min_weight_percent). Default 10. */
  minWeightPercent?: number;
  /** Monotonic clock in ms. Default performance.now. */
  now?: () => number;
}

/** Long enough for a fresh Node process's JIT and its caches to warm up under real traffic. */
export const DEFAULT_SLOW_START_WINDOW_MS = 30_000;
/** Envoy's default: a linear ramp. */
export const DEFAULT_AGGRESSION = 1;
/** Envoy's default: an arriving endpoint takes a tenth of its share at first, never none. */
export const DEFAULT_MIN_WEIGHT_PERCENT = 10;

/** Weight updates per window: a ramp in 30 steps is smooth to within a few percent. */
const STEPS_PER_WINDOW = 30;
/** Fastest weight update: rebuilding an inner picker more often buys nothing measurable. */
const MIN_UPDATE_MS = 10;
/** Slowest weight update, so long windows still ramp visibly. */
const MAX_UPDATE_MS = 1_000;

/**
 * Slow start (Envoy's slow_start_config): an endpoint that joins, or comes back after it was left
 * out (reconnecting, ejected by a breaker, not serving), does not take its full share at once. Its
 * weight is ramped over `windowMs`:
 *
 *     weight × max(minWeightPercent / 100, (t / windowMs) ^ (1 / aggression))
 *
 * where t is the time since it arrived, so a cold process (JIT, caches, connection pools) warms
 * up under a growing share instead of taking 1/n of the traffic at once. Wraps any balancer that
 * reads weights — weighted round robin, weighted random, least connection (whose in-flight counts
 * are compared relative to weight), peak EWMA — and changes nothing else about it.
 *
 * While an endpoint is ramping, the inner picker is rebuilt over the ramped weights about 30
 * times per window (at most once per second, at least every 10 ms); the pick checks for this
 * without reading the clock on every call. Once every endpoint is past its window the inner
 * balancer's own picker is used as is: no cost at all in the steady state. Endpoints present at
 * the first build arrive together and ramp together, which changes no share.
 */
export function slowStart(options?: SlowStartOptions): Balancer {
  const factory = 'slowStart';
  checkOptionsObject(factory, options);
  const inner = options?.balancer ?? weightedRoundRobin();
  if (!inner || typeof inner.build !== 'function') throw new TypeError(`${factory}: options.balancer must be a Balancer (an object with build())`);
  const windowMs = durationOption(factory, 'options.windowMs', options?.windowMs, DEFAULT_SLOW_START_WINDOW_MS, { min: 1 });
  const aggression = numberOption(factory, 'options.aggression', options?.aggression, DEFAULT_AGGRESSION, { above: 0 });
  const minWeightPercent = numberOption(factory, 'options.minWeightPercent', options?.minWeightPercent, DEFAULT_MIN_WEIGHT_PERCENT, { above: 0, atMost: 100 });
  const now = clockOption(factory, options?.now);
  const ramp: Ramp = { windowMs, exponent: 1 / aggression, floor: minWeightPercent / 100 };
  const updateMs = Math.min(MAX_UPDATE_MS, Math.max(MIN_UPDATE_MS, windowMs / STEPS_PER_WINDOW));
  const arrivals = new Arrivals();
  return Object.freeze({
    name: `slow_start(${inner.name})`,
    ...carried(inner),
    build<E extends Endpoint>(endpoints: readonly E[]): Picker<E> {
      if (!Array.isArray(endpoints)) throw new TypeError('build(endpoints): endpoints must be an array');
      if (endpoints.length === 0) return EMPTY_PICKER;
      const t = now();
      const since = arrivals.record(endpoints, t);
      if (!anyRamping(since, t, windowMs)) return inner.build(endpoints);
      return new SlowStartPicker(inner, endpoints, since, ramp, new RefreshSchedule(now, updateMs), now);
    },
  });
}

/** What a wrapper passes on from the balancer it wraps: the middleware a load-report balancer needs run. */
export function carried(inner: Balancer): { middleware?: unknown } {
  const middleware = (inner as { middleware?: unknown }).middleware;
  return middleware === undefined ? {} : { middleware };
}

interface Ramp {
  readonly windowMs: number;
  readonly exponent: number;
  readonly floor: number;
}

/** Envoy's factor: at least the floor; (elapsed / window) ^ (1 / aggression), elapsed at least 1 ms. */
export function slowStartFactor(elapsedMs: number, ramp: Ramp): number {
  if (elapsedMs >= ramp.windowMs) return 1;
  const time = (elapsedMs < 1 ? 1 : elapsedMs) / ramp.windowMs;
  const factor = ramp.exponent === 1 ? time : time ** ramp.exponent;
  return factor > ramp.floor ? factor : ramp.floor;
}

function anyRamping(since: Float64Array, now: number, windowMs: number): boolean {
  for (let i = 0; i < since.length; i++) if (now - since[i] < windowMs) return true;
  return false;
}

/**
 * An endpoint shown to the inner balancer at a ramped weight. Tagged with the picker that made it,
 * so that a pick unwraps its own views only, never those of a wrapper around it.
 */
class RampView<E extends Endpoint> extends WeightView<E> {
  constructor(
    origin: E,
    readonly owner: object,
  ) {
    super(origin, 0);
  }
}

/**
 * Balancers are indifferent to a common scale of the weights, so the endpoints furthest along
 * their ramp (often all but a few new ones, or all of them when they arrived together) are given
 * to the inner balancer as they are, and only those behind them as views at weight × their factor
 * relative to the leaders'. A view costs each pick that reads it a second object (its live
 * in-flight count is the endpoint's): reading 10,000 views instead of endpoints doubled least
 * connection's pick cost, from cache misses alone.
 */
class SlowStartPicker<E extends Endpoint> implements Picker<E> {
  private readonly views: RampView<E>[];
  /** The inner balancer's input: each endpoint, or its view while it is behind the leaders. */
  private readonly members: (E | RampView<E>)[];
  /** Every endpoint arrived at the same time: their factors stay equal, the ramp changes no share. */
  private readonly together: boolean;
  private ramped: Picker<E | RampView<E>> | undefined;
  private plain: Picker<E> | undefined;

  constructor(
    private readonly inner: Balancer,
    private readonly endpoints: readonly E[],
    private readonly since: Float64Array,
    private readonly ramp: Ramp,
    private readonly schedule: RefreshSchedule,
    private readonly now: () => number,
  ) {
    this.views = endpoints.map((endpoint) => new RampView(endpoint, this));
    this.members = endpoints.slice();
    let together = true;
    for (let i = 1; i < since.length; i++) if (since[i] !== since[0]) together = false;
    this.together = together;
    this.update();
  }

  pick(info: PickInfo): E | undefined {
    if (this.plain === undefined && this.schedule.due()) this.update();
    const plain = this.plain;
    if (plain !== undefined) return plain.pick(info);
    const picked = this.ramped!.pick(info);
    return picked instanceof RampView && picked.owner === this ? picked.origin : (picked as E | undefined);
  }

  /** Rebuilds the inner picker over the weights of now; the inner balancer's own once the ramp changes no share. */
  private update(): void {
    const t = this.now();
    const { endpoints, since, ramp, views, members } = this;
    let lead = 0;
    for (let i = 0; i < endpoints.length; i++) {
      const factor = slowStartFactor(t - since[i], ramp);
      if (factor > lead) lead = factor;
    }
    if (lead >= 1 ? this.allWarm(t) : this.together) {
      this.ramped = undefined;
      this.plain = this.inner.build(endpoints);
      return;
    }
    for (let i = 0; i < endpoints.length; i++) {
      const relative = slowStartFactor(t - since[i], ramp) / lead;
      const base = effectiveWeight(endpoints[i]);
      if (relative >= 1 || base <= 0) {
        members[i] = endpoints[i];
      } else {
        views[i].weight = base * quantizeWeight(relative, 1);
        members[i] = views[i];
      }
    }
    this.ramped = this.inner.build(members);
  }

  private allWarm(t: number): boolean {
    for (let i = 0; i < this.since.length; i++) if (t - this.since[i] < this.ramp.windowMs) return false;
    return true;
  }
}
