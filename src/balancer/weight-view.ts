import type { Endpoint } from './types';

/**
 * An endpoint as an inner balancer sees it under a wrapper that sets weights of its own (slow
 * start, load reports): the wrapper's weight, everything else read live from the real endpoint.
 * The wrapper's picker hands back `origin`, so callers only ever get their own objects.
 */
export class WeightView<E extends Endpoint> implements Endpoint {
  readonly address: string;
  readonly tags: Readonly<Record<string, string>>;
  weight: number;

  constructor(
    readonly origin: E,
    weight: number,
  ) {
    this.address = origin.address;
    this.tags = origin.tags;
    this.weight = weight;
  }

  get inflight(): number {
    return this.origin.inflight;
  }

  get latencyEwmaMs(): number | undefined {
    return this.origin.latencyEwmaMs;
  }
}

/**
 * Steps a weight is rounded to, per unit of the reference weight. Weighted round robin builds a
 * cycle as long as the sum of its (whole) weights: weights that change every second must stay
 * short decimals, or each rebuild would allocate a cycle of up to a million slots.
 */
export const WEIGHT_STEPS = 100;

/** `weight` rounded to a 1/WEIGHT_STEPS grid of `unit`, never below one step. */
export function quantizeWeight(weight: number, unit: number): number {
  const steps = Math.round((weight / unit) * WEIGHT_STEPS);
  return (steps < 1 ? 1 : steps) / WEIGHT_STEPS;
}

/** The caller's own endpoint behind any number of wrappers' views: what state is kept by. */
export function rootOf(endpoint: Endpoint): Endpoint {
  let current = endpoint;
  while (current instanceof WeightView) current = current.origin;
  return current;
}
