import { checkOptionsObject, numberOption } from '../core/options';
import { BestOfChoicesPicker, choiceOptions } from './choices';
import {
  EMPTY_PICKER,
  SinglePicker,
  liveEndpoints,
  randomSource,
} from './common';
import type { Balancer, Endpoint, Picker } from './types';

/** Options of peakEwma(). */
export interface PeakEwmaOptions {
  /** Endpoints drawn per call, the cheapest of which takes it. Default 2. */
  choiceCount?: number;
  /** Sets of at most this many endpoints are scanned whole instead of sampled. Default 4. */
  fullScanThreshold?: number;
  /**
   * Latency assumed for an endpoint with no sample yet, in ms (> 0). Default: the lowest latency
   * known among the endpoints compared, so a new endpoint is tried as if it were the fastest and
   * its own calls in flight still hold it back until its first sample arrives.
   */
  unknownLatencyMs?: number;
  /** Uniform source in [0, 1). Default: a fast generator seeded from Math.random (Math.random allocates per call). */
  random?: () => number;
}

/**
 * Latencies below this count as this, so an endpoint whose average reads 0 ms (a coarse clock, a
 * cached reply) is still held back by its calls in flight instead of taking every call.
 */
const MIN_LATENCY_MS = 0.01;


/**
 * Peak EWMA (Finagle, Linkerd): the call goes to the endpoint with the lowest expected wait,
 * cost = latency EWMA × (calls in flight + 1) / weight, among `choiceCount` drawn at random in
 * proportion to weight. Latency alone would pile calls on the fastest endpoint, in-flight count
 * alone ignores that one endpoint is slow: the product avoids a slow endpoint as soon as its
 * average rises (the client's EWMA is peak-sensitive: it jumps up on a slow reply and decays
 * back), while a fast one is used until its queue makes it as slow as the rest. O(1) per pick.
 *
 * Latency is `endpoint.latencyEwmaMs`, read live; undefined, NaN or negative means no sample yet
 * (see `unknownLatencyMs`). Weights: a missing, NaN or non-number weight counts as 1; an endpoint
 * with weight ≤ 0 takes no calls. With no endpoint of positive weight, pick returns undefined. A
 * call that excludes addresses draws among the endpoints it has not tried; when it has tried all,
 * among all.
 */
export function peakEwma(options?: PeakEwmaOptions): Balancer {
  const factory = 'peakEwma';
  checkOptionsObject(factory, options);
  const { choiceCount, fullScanThreshold } = choiceOptions(factory, options);
  const unknownLatencyMs = numberOption(factory, 'options.unknownLatencyMs', options?.unknownLatencyMs, -1, { above: 0 });
  const random = randomSource(factory, options?.random);
  return Object.freeze({
    name: 'peak_ewma',
    build<E extends Endpoint>(endpoints: readonly E[]): Picker<E> {
      const live = liveEndpoints(endpoints);
      if (live.endpoints.length === 0) return EMPTY_PICKER;
      if (live.endpoints.length === 1) return new SinglePicker(live.endpoints[0]);
      return new PeakEwmaPicker(live.endpoints, live.weights, random, choiceCount, fullScanThreshold, unknownLatencyMs);
    },
  });
}

class PeakEwmaPicker<E extends Endpoint> extends BestOfChoicesPicker<E> {
  private readonly inverseWeights: Float64Array;

  constructor(
    endpoints: readonly E[],
    weights: Float64Array,
    random: () => number,
    choiceCount: number,
    fullScanThreshold: number,
    /** -1: the lowest known of the two compared. */
    private readonly unknownLatencyMs: number,
  ) {
    super(endpoints, weights, random, choiceCount, fullScanThreshold);
    this.inverseWeights = weights.map((weight) => 1 / weight);
  }

  protected cheaper(a: number, b: number): boolean {
    const endpointA = this.endpoints[a];
    const endpointB = this.endpoints[b];
    // Read and fixed up in place: a helper returning a fractional latency could box it.
    let latencyA = endpointA.latencyEwmaMs;
    let latencyB = endpointB.latencyEwmaMs;
    latencyA = latencyA === undefined || !(latencyA >= 0) ? this.unknownLatencyMs : latencyA < MIN_LATENCY_MS ? MIN_LATENCY_MS : latencyA;
    latencyB = latencyB === undefined || !(latencyB >= 0) ? this.unknownLatencyMs : latencyB < MIN_LATENCY_MS ? MIN_LATENCY_MS : latencyB;
    // Unknown against known: as fast as the known one. Both unknown: in-flight counts decide.
    if (latencyA < 0) latencyA = latencyB < 0 ? 1 : latencyB;
    if (latencyB < 0) latencyB = latencyA;
    return (
      latencyA * (endpointA.inflight + 1) * this.inverseWeights[a] < latencyB * (endpointB.inflight + 1) * this.inverseWeights[b]
    );
  }
}
