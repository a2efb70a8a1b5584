import { booleanOption, checkOptionsObject, integerOption, numberOption } from '../core/options';
import {
  EMPTY_PICKER,
  SinglePicker,
  hasExclusions,
  liveEndpoints,
  randomSource,
} from './common';
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
 * Ring size cap, 2^22 points (32 MB): 10,000 endpoints at the default count fit (20 MB); beyond
 * it every endpoint's count is scaled down alike, and keys move more when a change crosses it.
 */
const MAX_RING_POINTS = 1 << 22;

/** Flips a hash's top bit: signed order of the result is the unsigned order of the hash. */
const FLIP = 0x80000000 | 0;

/**
 * Index of the ring by the top bits of the hash: about one bucket per point, at most 2^18 buckets
 * (1 MB, a 20th of the largest default ring), so a lookup reads a few adjacent entries.
 */
const MAX_INDEX_BITS = 18;

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
  /**
   * The ring, two entries per point: its hash with the top bit flipped, then its endpoint index.
   * Flipped hashes as signed integers ascend in the hashes' unsigned order, yet are small
   * integers to V8, so a pick never boxes a hash above 2^31; the owner beside its hash comes
   * in the same cache line as the last comparison.
   */
  private readonly ring: Int32Array;
  private readonly points: number;
  /** buckets[b] is the first point whose hash has top bits ≥ b; one more entry closes the last bucket. */
  private readonly buckets: Uint32Array;
  private readonly shift: number;
  /** Added to a flipped hash's top bits (shifted arithmetically) to give its bucket. */
  private readonly half: number;
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
    let points = 0;
    for (let i = 0; i < n; i++) {
      counts[i] = settings.weighted ? Math.max(1, Math.round(settings.virtualNodes * weights[i])) : settings.virtualNodes;
      points += counts[i];
    }
    if (points > MAX_RING_POINTS) {
      const shrink = MAX_RING_POINTS / points;
      points = 0;
      for (let i = 0; i < n; i++) {
        counts[i] = Math.max(1, Math.floor(counts[i] * shrink));
        points += counts[i];
      }
    }

    // Points are laid out by address, and the sort keeps that order among equal hashes, so a
    // collision between endpoints goes the same way whatever the order of the list.
    const byAddress = Array.from({ length: n }, (_, i) => i).sort((a, b) =>
      endpoints[a].address < endpoints[b].address ? -1 : endpoints[a].address > endpoints[b].address ? 1 : a - b,
    );
    const hashes = new Uint32Array(points);
    const owners = new Uint32Array(points);
    let p = 0;
    for (const i of byAddress) {
      const address = Buffer.from(endpoints[i].address);
      for (let v = 0; v < counts[i]; v++) {
        hashes[p] = murmur3BytesInt32(address, v);
        owners[p++] = i;
      }
    }
    const sorted = sortByHash(hashes, owners);

    this.points = points;
    this.ring = new Int32Array(2 * points);
    const bits = Math.min(MAX_INDEX_BITS, Math.max(1, Math.ceil(Math.log2(points))));
    this.shift = 32 - bits;
    this.half = 1 << (bits - 1);
    this.buckets = new Uint32Array((1 << bits) + 1);
    for (let q = 0; q < points; q++) {
      const hash = sorted.hashes[q];
      this.ring[2 * q] = hash ^ FLIP;
      this.ring[2 * q + 1] = sorted.owners[q];
      this.buckets[(hash >>> this.shift) + 1]++;
    }
    for (let b = 1; b < this.buckets.length; b++) this.buckets[b] += this.buckets[b - 1];

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
      const value = this.headerValue(info.metadata);
      if (value !== undefined && value.length > 0) {
        flipped = (typeof value === 'string' ? murmur3Int32(value, 0) : murmur3BytesInt32(value, 0)) ^ FLIP;
        keyed = true;
      }
    }
    // No key: a uniformly random point, so keyless calls spread as keys do.
    if (!keyed) flipped = (this.random() * 4294967296) | 0;
    const at = this.find(flipped);
    if (!this.bounded && !hasExclusions(info.exclude)) return this.endpoints[this.ring[2 * at + 1]];
    return this.walk(at, info.exclude);
  }

  /** The first value of the key header, if the call has one. */
  private headerValue(metadata: Metadata): MetadataValue | undefined {
    // Metadata.get allocates an empty array when the header is missing; only keyless calls pay it.
    const values = metadata.get(this.header!);
    return values.length === 0 ? undefined : values[0];
  }

  /** The first ring point at or after the (flipped) hash, wrapping to the start. */
  private find(flipped: number): number {
    const ring = this.ring;
    const bucket = (flipped >> this.shift) + this.half;
    let low = this.buckets[bucket];
    let high = this.buckets[bucket + 1];
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (ring[2 * middle] < flipped) low = middle + 1;
      else high = middle;
    }
    return low === this.points ? 0 : low;
  }

  /** From the key's point onwards, the first endpoint not excluded and under its load bound. */
  private walk(start: number, exclude: ReadonlySet<string> | undefined): E {
    const avoid = hasExclusions(exclude) ? exclude : undefined;
    const bounded = this.bounded;
    const placedTotal = bounded ? this.refreshTotal() + 1 : 0;
    const points = this.points;
    const steps = Math.min(points, MAX_WALK);
    let at = start;
    for (let step = 0; step < steps; step++) {
      const i = this.ring[2 * at + 1];
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
    return avoid === undefined ? endpoints[this.ring[2 * start + 1]] : this.walk(start, undefined);
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

/** Radix digit width: three passes cover 32 bits with a 2,048-entry count table. */
const RADIX_BITS = 11;

/**
 * Points sorted by unsigned hash, stably (least-significant-digit radix sort): O(points), several
 * times faster than a comparison sort of a 100,000-point ring.
 */
function sortByHash(hashes: Uint32Array, owners: Uint32Array): { hashes: Uint32Array; owners: Uint32Array } {
  const n = hashes.length;
  const mask = (1 << RADIX_BITS) - 1;
  const count = new Uint32Array(1 << RADIX_BITS);
  let fromHashes: Uint32Array = hashes;
  let fromOwners: Uint32Array = owners;
  let toHashes: Uint32Array = new Uint32Array(n);
  let toOwners: Uint32Array = new Uint32Array(n);
  for (let shift = 0; shift < 32; shift += RADIX_BITS) {
    count.fill(0);
    for (let i = 0; i < n; i++) count[(fromHashes[i] >>> shift) & mask]++;
    let start = 0;
    for (let d = 0; d <= mask; d++) {
      const c = count[d];
      count[d] = start;
      start += c;
    }
    for (let i = 0; i < n; i++) {
      const at = count[(fromHashes[i] >>> shift) & mask]++;
      toHashes[at] = fromHashes[i];
      toOwners[at] = fromOwners[i];
    }
    [fromHashes, toHashes] = [toHashes, fromHashes];
    [fromOwners, toOwners] = [toOwners, fromOwners];
  }
  return { hashes: fromHashes, owners: fromOwners };
}
