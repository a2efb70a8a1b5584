import { murmur3 } from './murmur3';
import { SubsetRing, mix } from './subset-ring';

/**
 * Most clients a server may have, as a multiple of the mean (clients × size / servers): 1.1 keeps
 * the busiest server within 10 % of the mean while leaving the slack that keeps a membership
 * change from cascading through the assignment (with no slack, one server leaving changes about
 * four times the minimum of client↔server pairs; with 10 %, 1.2–2 times).
 */
export const DEFAULT_SUBSET_LOAD_FACTOR = 1.1;

/** Seed of the server and client hashes: every process must use the same one. */
const HASH_SEED = 0x5b5e7;

/** Decorrelates a server's capacity rounding from its affinities. */
const CAPACITY_SALT = 0x2545f491;

/** How much client `c` and server `s` want each other: the same number seen from both sides. */
function affinity(clientHash: number, serverHash: number): number {
  return mix(clientHash ^ Math.imul(serverHash, 0x9e3779b1));
}

/** The hash a client id stands for in the assignment. */
export function clientHash(clientId: number | string): number {
  return mix(murmur3(typeof clientId === 'number' ? `#${clientId}` : clientId, HASH_SEED) + 1);
}

/** The servers sorted by address and their hashes: the same in every process for the same set. */
export function serverTable(addresses: readonly string[]): { addresses: string[]; hashes: Uint32Array } {
  const sorted = [...new Set(addresses)].sort();
  return { addresses: sorted, hashes: Uint32Array.from(sorted, (address) => murmur3(address, HASH_SEED)) };
}

/**
 * Rendezvous subsetting: the `size` servers with the highest affinity to the client. Needs no
 * knowledge of the other clients and moves the fewest pairs possible on any change, but server
 * loads spread like a binomial (the busiest about 1.5× the mean at 1,000 clients × 300 servers,
 * size 10).
 */
export function rendezvousSubset(servers: { hashes: Uint32Array }, client: number, size: number): number[] {
  const m = servers.hashes.length;
  if (size >= m) return Array.from({ length: m }, (_, i) => i);
  const scores = new Float64Array(m);
  const order = Array.from({ length: m }, (_, i) => i);
  for (let i = 0; i < m; i++) scores[i] = affinity(client, servers.hashes[i]);
  order.sort((a, b) => scores[b] - scores[a] || a - b);
  return order.slice(0, size).sort((a, b) => a - b);
}

/**
 * Balanced subsetting: every client gets `size` distinct servers and no server more than
 * mean × loadFactor clients (mean = clientCount × size / servers; at least ⌈mean⌉). Each client
 * ranks the servers: first its `size` nearest clockwise on the ring (clients evenly spaced,
 * servers at points of their hashes, see SubsetRing), nearest first; then the others by
 * rendezvous hash. Every server ranks its clients by the same pair scores, and the assignment is
 * the stable matching under them (equivalently: the pairs taken in order of score, each kept
 * while the client still needs servers and the server has room). It is unique, so every process
 * computes the same one from the same server set, client count and size.
 *
 * Why both: the ring makes first choices even (a server is first choice of the clients in the
 * arcs before its points, about 10 % from the mean at 1,000 × 300, size 10, where choices by
 * hash alone spread like a binomial, 17 %), so fewer servers fill up and turn clients away; and
 * a client turned away goes to a server drawn by hash rather than to the ring's next one, which
 * sits among the same crowded arcs. A membership change then moves little: a server joining
 * takes the clients whose ring windows its points fall into, each dropping its farthest; one
 * leaving sends its clients to their next choices; a chain goes on only through full servers.
 *
 * Returns, for each client 0..clientCount−1, its servers as indices into `servers`. Cost about
 * clientCount × servers hash evaluations for the clients turned away at least once.
 */
export function balancedSubsets(servers: { hashes: Uint32Array }, clientCount: number, size: number, loadFactor: number): Uint32Array[] {
  const m = servers.hashes.length;
  const all = Uint32Array.from({ length: m }, (_, i) => i);
  if (size >= m) return Array.from({ length: clientCount }, () => all.slice());
  const mean = (clientCount * size) / m;
  const floor = Math.ceil(mean);
  const preferences = new Preferences(servers.hashes, clientCount, size);
  // Each server's room is mean × loadFactor rounded down by its own fraction (from its hash), so
  // that when the mean moves (a server joins or leaves) only a few servers' room changes, by one.
  // One rounding for all would shrink every server's room at once at some sizes, and displace a
  // client from each full server: up to four times the minimum of pairs changed.
  const held = Array.from({ length: m }, (_, s) => new HeldHeap(Math.max(floor, Math.floor(mean * loadFactor - mix(servers.hashes[s] ^ CAPACITY_SALT) / 2 ** 32))));
  const holds = Array.from({ length: clientCount }, () => new Set<number>());
  // Clients with a place still to fill, one entry per place.
  const pending: number[] = [];
  for (let c = clientCount - 1; c >= 0; c--) for (let k = 0; k < size; k++) pending.push(c);
  for (let c = pending.pop(); c !== undefined; c = pending.pop()) {
    const s = preferences.next(c);
    if (s < 0) continue;
    const rejected = held[s].offer(c, preferences.lastScore);
    if (rejected !== c) holds[c].add(s);
    if (rejected >= 0) {
      if (rejected !== c) holds[rejected].delete(s);
      pending.push(rejected);
    }
  }
  return holds.map((set) => Uint32Array.from([...set].sort((a, b) => a - b)));
}

/**
 * The servers a client takes in place of unusable members, in order: the servers that are not
 * members, by rendezvous hash (so the clients of one failing server spread their replacements
 * over the whole fleet). The first `count`.
 */
export function replacementOrder(servers: { hashes: Uint32Array }, client: number, members: ReadonlySet<number>, count: number): number[] {
  const m = servers.hashes.length;
  const candidates: number[] = [];
  for (let s = 0; s < m; s++) if (!members.has(s)) candidates.push(s);
  const scores = new Float64Array(m);
  for (const s of candidates) scores[s] = affinity(client, servers.hashes[s]);
  candidates.sort((a, b) => scores[b] - scores[a] || a - b);
  return candidates.slice(0, count);
}

/**
 * Each client's servers in order of preference, with the score of each pair (the ring's
 * 2 − distance for its window, above the rendezvous hash / 2^32 of the rest). The rendezvous part
 * is produced lazily: most clients never get past their window.
 */
class Preferences {
  private readonly ring: SubsetRing;
  private readonly clientHashes: Uint32Array;
  private readonly lists: Uint32Array[];
  private readonly pairScores: Float64Array[];
  /** How many of each list are the ring window. */
  private readonly windows: Uint32Array;
  private readonly cursor: Uint32Array;
  /** Score of the pair next() last returned. */
  lastScore = 0;

  constructor(
    private readonly serverHashes: Uint32Array,
    clientCount: number,
    private readonly size: number,
  ) {
    this.ring = new SubsetRing(serverHashes);
    this.clientHashes = Uint32Array.from({ length: clientCount }, (_, c) => clientHash(c));
    this.lists = new Array(clientCount);
    this.pairScores = new Array(clientCount);
    this.windows = new Uint32Array(clientCount);
    this.cursor = new Uint32Array(clientCount);
    const servers = new Uint32Array(size);
    const distances = new Float64Array(size);
    for (let c = 0; c < clientCount; c++) {
      const found = this.ring.nearest((c + 0.5) / clientCount, size, servers, distances);
      this.windows[c] = found;
      this.lists[c] = servers.slice(0, found);
      this.pairScores[c] = distances.slice(0, found).map((d) => 2 - d);
    }
  }

  /** The client's next server to ask, or -1 when it has asked them all. */
  next(c: number): number {
    if (this.cursor[c] >= this.lists[c].length && !this.extend(c)) return -1;
    const at = this.cursor[c]++;
    this.lastScore = this.pairScores[c][at];
    return this.lists[c][at];
  }

  /** Appends the next servers by rendezvous hash (twice as many as before); false when none is left. */
  private extend(c: number): boolean {
    const m = this.serverHashes.length;
    const list = this.lists[c];
    if (list.length >= m) return false;
    const window = this.windows[c];
    const members = new Set(list.subarray(0, window));
    const more = Math.min(m - window, Math.max(2 * (list.length - window), this.size + 8));
    const top = this.top(c, more + window).filter((s) => !members.has(s)).slice(0, more);
    const next = new Uint32Array(window + top.length);
    next.set(list.subarray(0, window));
    next.set(top, window);
    const scores = new Float64Array(next.length);
    scores.set(this.pairScores[c].subarray(0, window));
    for (let i = window; i < next.length; i++) scores[i] = affinity(this.clientHashes[c], this.serverHashes[next[i]]) / 2 ** 32;
    this.lists[c] = next;
    this.pairScores[c] = scores;
    return next.length > list.length;
  }

  /** The client's `count` best servers by rendezvous hash, best first. */
  private top(c: number, count: number): Uint32Array {
    const m = this.serverHashes.length;
    const k = Math.min(count, m);
    const hash = this.clientHashes[c];
    const best = new Uint32Array(k);
    const bestScores = new Float64Array(k);
    let filled = 0;
    for (let s = 0; s < m; s++) {
      const score = affinity(hash, this.serverHashes[s]);
      // Ties go to the lower index, which comes first in this loop: only a strictly higher score moves ahead.
      if (filled === k && score <= bestScores[k - 1]) continue;
      let at = filled < k ? filled++ : k - 1;
      while (at > 0 && bestScores[at - 1] < score) {
        best[at] = best[at - 1];
        bestScores[at] = bestScores[at - 1];
        at--;
      }
      best[at] = s;
      bestScores[at] = score;
    }
    return best;
  }
}

/** A server's clients, the one it likes least on top; ties go against the higher client index. */
class HeldHeap {
  private readonly clients: number[] = [];
  private readonly scores: number[] = [];

  constructor(private readonly capacity: number) {}

  /** Takes client `c` if there is room or it is liked better than the least liked; returns the client turned away, or -1. */
  offer(c: number, score: number): number {
    if (this.clients.length < this.capacity) {
      this.push(c, score);
      return -1;
    }
    if (!this.worse(this.scores[0], this.clients[0], score, c)) return c;
    const out = this.clients[0];
    this.replaceTop(c, score);
    return out;
  }

  /** Whether (scoreA, a) is liked less than (scoreB, b). */
  private worse(scoreA: number, a: number, scoreB: number, b: number): boolean {
    return scoreA < scoreB || (scoreA === scoreB && a > b);
  }

  private push(c: number, score: number): void {
    const { clients, scores } = this;
    let at = clients.length;
    clients.push(c);
    scores.push(score);
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (!this.worse(score, c, scores[parent], clients[parent])) break;
      clients[at] = clients[parent];
      scores[at] = scores[parent];
      at = parent;
    }
    clients[at] = c;
    scores[at] = score;
  }

  private replaceTop(c: number, score: number): void {
    const { clients, scores } = this;
    const n = clients.length;
    let at = 0;
    for (;;) {
      let child = 2 * at + 1;
      if (child >= n) break;
      if (child + 1 < n && this.worse(scores[child + 1], clients[child + 1], scores[child], clients[child])) child++;
      if (!this.worse(scores[child], clients[child], score, c)) break;
      clients[at] = clients[child];
      scores[at] = scores[child];
      at = child;
    }
    clients[at] = c;
    scores[at] = score;
  }
}
