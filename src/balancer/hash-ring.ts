import { murmur3BytesInt32 } from './murmur3';

// The ring of consistent hashing: virtual points of every endpoint, placed by MurmurHash3 of the
// address alone, sorted, and indexed by the top bits of the hash. The same in every process.

/**
 * Ring size cap, 2^22 points (32 MB): 10,000 endpoints at the default count fit (20 MB); beyond
 * it every endpoint's count is scaled down alike, and keys move more when a change crosses it.
 */
export const MAX_RING_POINTS = 1 << 22;

/** Flips a hash's top bit: signed order of the result is the unsigned order of the hash. */
export const FLIP = 0x80000000 | 0;

/**
 * Index of the ring by the top bits of the hash: about one bucket per point, at most 2^18 buckets
 * (1 MB, a 20th of the largest default ring), so a lookup reads a few adjacent entries.
 */
const MAX_INDEX_BITS = 18;

export class HashRing {
  /**
   * Two entries per point: its hash with the top bit flipped, then its endpoint index. Flipped
   * hashes as signed integers ascend in the hashes' unsigned order, yet are small integers to V8,
   * so a lookup never boxes a hash above 2^31; the owner beside its hash comes in the same cache
   * line as the last comparison.
   */
  private readonly ring: Int32Array;
  readonly points: number;
  /** buckets[b] is the first point whose hash has top bits ≥ b; one more entry closes the last bucket. */
  private readonly buckets: Uint32Array;
  private readonly shift: number;
  /** Added to a flipped hash's top bits (shifted arithmetically) to give its bucket. */
  private readonly half: number;

  /** `counts[i]` points for the endpoint at `addresses[i]`, scaled down alike past MAX_RING_POINTS. */
  constructor(addresses: readonly string[], counts: Float64Array) {
    const n = addresses.length;
    let points = 0;
    for (let i = 0; i < n; i++) points += counts[i];
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
      addresses[a] < addresses[b] ? -1 : addresses[a] > addresses[b] ? 1 : a - b,
    );
    const hashes = new Uint32Array(points);
    const owners = new Uint32Array(points);
    let p = 0;
    for (const i of byAddress) {
      const address = Buffer.from(addresses[i]);
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
  }

  /** The first point at or after the (flipped) hash, wrapping to the start. */
  find(flipped: number): number {
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

  /** The index of the endpoint owning point `at`. */
  owner(at: number): number {
    return this.ring[2 * at + 1];
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
