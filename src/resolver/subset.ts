import { describeValue } from '../core/text';
import { DEFAULT_SUBSET_LOAD_FACTOR, balancedSubsets, clientHash, rendezvousSubset, serverTable } from '../balancer/subset-assignment';
import type { Instance, Resolver, ResolverListener } from './types';

/** Options of subsetResolver(). */
export interface SubsetOptions {
  /** Servers per client: how many endpoints (channels) this client keeps. */
  size: number;
  /**
   * This client's place among the callers: an integer from 0 to clientCount − 1 with clientCount
   * (a StatefulSet ordinal, a shard number), or any stable string or number without it.
   */
  clientId: number | string;
  /**
   * How many clients share the servers. With it, every server gets an even share of clients (at
   * most `loadFactor` × the mean); without it, each client chooses on its own (rendezvous hashing)
   * and server loads spread like a binomial.
   */
  clientCount?: number;
  /** Most clients per server as a multiple of the mean, with clientCount. Default 1.1. */
  loadFactor?: number;
}

/**
 * Deterministic subsetting for large fleets (as in Google's SRE book and Finagle's deterministic
 * aperture): wraps a resolver so that this client sees only `size` of the service's instances,
 * chosen so that across all clients every server gets an even share and a membership change moves
 * few client↔server pairs. It sits before the balancer, so only the subset's endpoints get
 * channels: N clients × M servers cost N × size connections instead of N × M.
 *
 * With `clientCount`, the subsets are the stable matching of clients and servers by a shared
 * affinity hash, computed identically by every client from the server list, the client count and
 * the size (about clientCount × servers hash evaluations per membership change: ~50 ms at
 * 1,000 × 300). Without it, rendezvous hashing: the `size` servers with the highest affinity to
 * the client id, which moves the fewest pairs but balances only statistically. See `npm run bench
 * -- subset` for both.
 *
 * Instance weights do not affect the choice (the balancer still uses them within the subset).
 * The subset is not widened when its members fail: choose `size` with room for failures.
 */
export function subsetResolver(resolver: Resolver, options: SubsetOptions): Resolver {
  const factory = 'subsetResolver';
  if (!resolver || typeof resolver.watch !== 'function') throw new TypeError(`${factory}: the first argument must be a Resolver (an object with watch())`);
  if (options === null || typeof options !== 'object') throw new TypeError(`${factory}: options { size, clientId } are required`);
  const { size, clientId, clientCount, loadFactor = DEFAULT_SUBSET_LOAD_FACTOR } = options;
  if (!Number.isInteger(size) || size < 1) throw new TypeError(`${factory}: options.size must be an integer ≥ 1 (got ${describeValue(size)})`);
  if (clientCount !== undefined && (!Number.isInteger(clientCount) || clientCount < 1 || clientCount > MAX_CLIENTS)) {
    throw new TypeError(`${factory}: options.clientCount must be an integer from 1 to ${MAX_CLIENTS} (got ${describeValue(clientCount)})`);
  }
  if (clientCount !== undefined) {
    if (!Number.isInteger(clientId) || (clientId as number) < 0 || (clientId as number) >= clientCount) {
      throw new TypeError(`${factory}: with options.clientCount, options.clientId must be an integer from 0 to ${clientCount - 1} (got ${describeValue(clientId)})`);
    }
  } else if (!(typeof clientId === 'string' && clientId.length > 0) && !Number.isFinite(clientId)) {
    throw new TypeError(`${factory}: options.clientId must be a non-empty string or a number (got ${describeValue(clientId)})`);
  }
  if (typeof loadFactor !== 'number' || !(loadFactor >= 1) || !Number.isFinite(loadFactor)) {
    throw new TypeError(`${factory}: options.loadFactor must be a finite number ≥ 1 (got ${describeValue(loadFactor)})`);
  }
  const choose = (addresses: readonly string[]): Set<string> => {
    const table = serverTable(addresses);
    const chosen =
      clientCount === undefined
        ? rendezvousSubset(table, clientHash(clientId), size)
        : Array.from(balancedSubsets(table, clientCount, size, loadFactor)[clientId as number]);
    return new Set(chosen.map((i) => table.addresses[i]));
  };
  return {
    watch(service: string, listener: ResolverListener): () => void {
      let lastKey: string | undefined;
      let subset = new Set<string>();
      return resolver.watch(service, {
        onUpdate(instances: Instance[]) {
          if (!Array.isArray(instances)) return listener.onUpdate(instances);
          const addresses = instances.filter((i) => i !== null && typeof i === 'object' && typeof i.address === 'string').map((i) => i.address);
          // Weight and tag changes pass through without recomputing: only membership moves the subset.
          const key = [...new Set(addresses)].sort().join('\n');
          if (key !== lastKey) {
            lastKey = key;
            subset = choose(addresses);
          }
          // Malformed entries pass on, for the client to report as it reports every resolver's.
          listener.onUpdate(instances.filter((i) => i === null || typeof i !== 'object' || typeof i.address !== 'string' || subset.has(i.address)));
        },
        onError: (error: Error) => listener.onError(error),
      });
    },
    ...(resolver.resolveNow ? { resolveNow: (service: string) => resolver.resolveNow!(service) } : {}),
  };
}

/** Keeps the assignment's cost (clients × servers) within what a membership change can afford to compute. */
const MAX_CLIENTS = 100_000;
