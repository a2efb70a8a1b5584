import { booleanOption, checkOptionsObject, integerOption, numberOption } from '../core/options';
import {
  EMPTY_PICKER,
  SinglePicker,
  hasExclusions,
  liveEndpoints,
  randomSource,
} from './common';
import { FLIP, HashRing, MAX_RING_POINTS } from './hash-ring';
import { murmur3BytesInt32, murmur3Int32 } from './murmur3';
import type { Metadata, MetadataValue } from '@grpc/grpc-js';
import type { Balancer, Endpoint, PickInfo, Picker } from './types';

/** Options of consistentHash(). */
export interface ConsistentHashOptions {
  /**
   * Metadata header whose first value is the key of a call that has no `hashKey`, e.g.
   * 'x-user-id'. A binary header (name ending in '-bin') hashes its bytes.
   */
  header?: string;
  /** Ring points per endpoint, or per unit of weight when `weighted`. Default 256. */
  virtualNodes?: number;
  /** Give each endpoint round(virtualNodes × weight) points (at least 1), so it owns keys in proportion to its weight. Default false. */
  weighted?: boolean;
  /**
   * Bounded load (Mirrokni, Thorup, Zadimoghaddam): no endpoint takes a call when it already has
   * loadFactor × the average in-flight calls (this one included, rounded up); the key goes on to
   * the next endpoint on the ring under the bound. Must be > 1; e.g. 1.25. Default: off.
   */
  loadFactor?: number;
  /** Uniform source in [0, 1), for calls without a key. Default: a fast generator seeded from Math.random. */
  random?: () => number;
}

/**
 * Each endpoint's share of keys is a sum of as many random arcs, so it strays from the mean by
 * about 1/√points: 256 keeps the busiest of 10 endpoints within 1.15 × the mean for 93% of address
 * sets (Ketama's 160: 74%; 100: 52%), for 2 KB of ring per endpoint.
 */
export const DEFAULT_VIRTUAL_NODES = 256;

/** Off: a key's endpoint then depends on addresses alone, so changing a weight moves no key. */
const DEFAULT_WEIGHTED = false;

/**
 * Ring points a retry or an over-bound key walks before it scans the endpoints instead. The
 * expected walk is n / (endpoints still open), under 5 with loadFactor 1.25.
 */
const MAX_WALK = 256;

/**
 * With bounded load, endpoints whose in-flight count is re-read per pick to keep the total
 * current: all of them up to 16, otherwise each one every n/16 picks.
 */
const INFLIGHT_REFRESH = 16;

/**
 * Consistent hashing on a ring of virtual nodes: calls with the same key go to the same endpoint,
 * and adding or removing one of n endpoints moves only the keys it gains or loses (about 1/n).
 *
 * The key is `info.hashKey`, else the first value of `options.header` in the call's metadata. A
 * call with neither (or an empty key) goes to a random point of the ring: spread like keys, and
 * through the same bounded-load and exclusion rules.
 *
 * The ring is the same in every process and after restarts: points are MurmurHash3 (32-bit) of
 * each address seeded with the point's number, keys MurmurHash3 of their UTF-8 bytes (seed 0);
 * nothing is random, and neither the order of the endpoints nor any other state changes it (hash
 * collisions between endpoints go to the lower address). Building hashes every point once; a pick
 * hashes the key once and finds its point through an index of the hash's top bits and a binary
 * search within the bucket, O(1) expected.
 *
 * Weights shape the ring and the load bounds only with `weighted`. A missing, NaN or non-number
 * weight counts as 1; an endpoint with weight ≤ 0 takes no calls. With no endpoint of positive
 * weight, pick returns undefined. A call that excludes addresses goes to the next endpoint on the
 * ring it has not tried; when it has tried all, to its usual one.
 */
export function consistentHash(options?: ConsistentHashOptions): Balancer {
  const factory = 'consistentHash';
  checkOptionsObject(factory, options);
  const header = headerOption(options?.header);
  const weighted = booleanOption(factory, 'options.weighted', options?.weighted, DEFAULT_WEIGHTED);
  const virtualNodes = weighted
    ? numberOption(factory, 'options.virtualNodes', options?.virtualNodes, DEFAULT_VIRTUAL_NODES, { above: 0 })
    : integerOption(factory, 'options.virtualNodes', options?.virtualNodes, DEFAULT_VIRTUAL_NODES, { min: 1, max: MAX_RING_POINTS });
  const loadFactor = numberOption(factory, 'options.loadFactor', options?.loadFactor, 0, { above: 1 });
  const random = randomSource(factory, options?.random);
  return Object.freeze({
    name: 'consistent_hash',
    // A key stays on its owner while the owner connects: the call waits rather than wander (gRPC's ring_hash).
    waitsForConnecting: true,
    build<E extends Endpoint>(endpoints: readonly E[]): Picker<E> {
      const live = liveEndpoints(endpoints);
      if (live.endpoints.length === 0) return EMPTY_PICKER;
      if (live.endpoints.length === 1) return new SinglePicker(live.endpoints[0]);
      return new ConsistentHashPicker(live.endpoints, live.weights, { header, virtualNodes, weighted, loadFactor, random });
    },
  });
}

function headerOption(header: unknown): string | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== 'string' || !/^[0-9a-z_.-]+$/i.test(header)) {
    throw new TypeError('consistentHash: options.header must be a metadata key such as "x-user-id"');
  }
  return header.toLowerCase();
}

interface RingSettings {
  header: string | undefined;
  virtualNodes: number;
  weighted: boolean;
  /** 0: unbounded. */
  loadFactor: number;
  random: () => number;
}

class ConsistentHashPicker<E extends Endpoint> implements Picker<E> {
  private readonly ring: HashRing;
  private readonly header: string | undefined;
  private readonly random: () => number;
  private readonly bounded: boolean;
  /** loadFactor × the endpoint's share of the load (1/n, or weight / Σ weights when weighted). */
  private readonly capacityShare: Float64Array;
  /** In-flight counts as last read, and their sum; only with bounded load. */
  private readonly seenInflight: Float64Array;
  private totalInflight = 0;
  private refreshCursor = 0;

  constructor(
    private readonly endpoints: readonly E[],
    weights: Float64Array,
    settings: RingSettings,
  ) {
    const n = endpoints.length;
    this.header = settings.header;
    this.random = settings.random;
    const counts = new Float64Array(n);
    for (let i = 0; i < n; i++) counts[i] = settings.weighted ? Math.max(1, Math.round(settings.virtualNodes * weights[i])) : settings.virtualNodes;
    this.ring = new HashRing(
      endpoints.map((e) => e.address),
      counts,
    );

    this.bounded = settings.loadFactor > 0;
    this.capacityShare = new Float64Array(this.bounded ? n : 0);
    this.seenInflight = new Float64Array(this.bounded ? n : 0);
    if (this.bounded) {
      let totalWeight = 0;
      for (let i = 0; i < n; i++) totalWeight += weights[i];
      for (let i = 0; i < n; i++) {
        this.capacityShare[i] = settings.loadFactor * (settings.weighted ? weights[i] / totalWeight : 1 / n);
      }
    }
  }

  pick(info: PickInfo): E | undefined {
    const key = info.hashKey;
    let flipped = 0;
    let keyed = false;
    if (key !== undefined && key.length > 0) {
      flipped = murmur3Int32(key, 0) ^ FLIP;
      keyed = true;
    } else if (this.header !== undefined && info.metadata !== undefined) {
      const value = headerValue(info.metadata, this.header);
      if (value !== undefined && value.length > 0) {
        flipped = (typeof value === 'string' ? murmur3Int32(value, 0) : murmur3BytesInt32(value, 0)) ^ FLIP;
        keyed = true;
      }
    }
    // No key: a uniformly random point, so keyless calls spread as keys do.
    if (!keyed) flipped = (this.random() * 4294967296) | 0;
    const at = this.ring.find(flipped);
    if (!this.bounded && !hasExclusions(info.exclude)) return this.endpoints[this.ring.owner(at)];
    return this.walk(at, info.exclude);
  }

  /** From the key's point onwards, the first endpoint not excluded and under its load bound. */
  private walk(start: number, exclude: ReadonlySet<string> | undefined): E {
    const avoid = hasExclusions(exclude) ? exclude : undefined;
    const bounded = this.bounded;
    const placedTotal = bounded ? this.refreshTotal() + 1 : 0;
    const points = this.ring.points;
    const steps = Math.min(points, MAX_WALK);
    let at = start;
    for (let step = 0; step < steps; step++) {
      const i = this.ring.owner(at);
      const endpoint = this.endpoints[i];
      if (
        (avoid === undefined || !avoid.has(endpoint.address)) &&
        (!bounded || endpoint.inflight < Math.ceil(this.capacityShare[i] * placedTotal))
      ) {
        return endpoint;
      }
      at = at + 1 === points ? 0 : at + 1;
    }
    return this.scan(start, avoid, placedTotal);
  }

  /**
   * When the walk finds nothing nearby: the first endpoint under its bound and not excluded, else
   * the least loaded one not excluded, else (all tried) the key's own or least loaded endpoint.
   */
  private scan(start: number, avoid: ReadonlySet<string> | undefined, placedTotal: number): E {
    const endpoints = this.endpoints;
    let best = -1;
    let bestLoad = Infinity;
    for (let i = 0; i < endpoints.length; i++) {
      const endpoint = endpoints[i];
      if (avoid !== undefined && avoid.has(endpoint.address)) continue;
      if (!this.bounded || endpoint.inflight < Math.ceil(this.capacityShare[i] * placedTotal)) return endpoint;
      const load = endpoint.inflight / this.capacityShare[i];
      if (load < bestLoad) {
        best = i;
        bestLoad = load;
      }
    }
    if (best >= 0) return endpoints[best];
    return avoid === undefined ? endpoints[this.ring.owner(start)] : this.walk(start, undefined);
  }

  /** Re-reads some in-flight counts and returns the (possibly slightly stale) total. */
  private refreshTotal(): number {
    const endpoints = this.endpoints;
    const seen = this.seenInflight;
    const n = endpoints.length;
    let cursor = this.refreshCursor;
    let total = this.totalInflight;
    const count = n < INFLIGHT_REFRESH ? n : INFLIGHT_REFRESH;
    for (let r = 0; r < count; r++) {
      const inflight = endpoints[cursor].inflight;
      total += inflight - seen[cursor];
      seen[cursor] = inflight;
      cursor = cursor + 1 === n ? 0 : cursor + 1;
    }
    this.refreshCursor = cursor;
    this.totalInflight = total;
    return total;
  }
}

/** The first value of the key header, if the call has one. */
function headerValue(metadata: Metadata, header: string): MetadataValue | undefined {
  // Metadata.get allocates an empty array when the header is missing; only keyless calls pay it.
  const values = metadata.get(header);
  return values.length === 0 ? undefined : values[0];
}
