import { checkOptionsObject, integerOption, numberOption, stringOption } from '../core/options';
import { DEFAULT_SUBSET_LOAD_FACTOR, balancedSubsets, clientHash, rendezvousSubset, replacementOrder, serverTable } from '../balancer/subset-assignment';
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

/** What the subset reads of an endpoint's state; the endpoints of a client made by createClient have it. */
export interface SubsetEndpointState {
  readonly address: string;
  /** False once the endpoint is known to be failing (connection failures), ejected by a breaker, or not serving. */
  readonly eligible: boolean;
  /** Set once the resolver no longer lists the endpoint. */
  readonly draining: boolean;
}

/** Where endpoint states come from: a client made by createClient, or the view a middleware's attach() gets. */
export interface SubsetStateSource {
  observe(observer: {
    onEndpointAdded?(endpoint: SubsetEndpointState): void;
    onEndpointChanged?(endpoint: SubsetEndpointState): void;
    onEndpointRemoved?(endpoint: SubsetEndpointState): void;
  }): () => void;
}

/** A subset resolver: a Resolver that can also follow its clients' endpoint states. */
export interface SubsetResolver extends Resolver {
  /**
   * Replaces unusable members: while members of the subset are failing, ejected or not serving
   * in `source` (the client this resolver feeds), the subset also lists the next servers in this
   * client's replacement order, so that `size` members stay usable, and drops them again as the
   * members recover. The unusable members stay listed, so their recovery is seen. At most `size`
   * servers are added. Returns a function that stops following.
   */
  follow(source: SubsetStateSource): () => void;
}

/** Keeps the assignment's cost (clients × servers) within what a membership change can afford to compute. */
const MAX_CLIENTS = 100_000;

/**
 * Deterministic subsetting for large fleets (as in Google's SRE book and Finagle's deterministic
 * aperture): wraps a resolver so that this client sees only `size` of the service's instances,
 * chosen so that across all clients every server gets an even share and a membership change moves
 * few client↔server pairs. It sits before the balancer, so only the subset's endpoints get
 * channels: N clients × M servers cost N × size connections instead of N × M.
 *
 * With `clientCount`, the subsets are a stable matching of clients and servers that every client
 * computes identically from the server list, the client count and the size (see balancedSubsets:
 * a ring gives each client its nearest servers, a hash the rest; ~10–50 ms per membership change
 * at 1,000 × 300). Without it, rendezvous hashing: the `size` servers with the highest hash with
 * the client id, which moves the fewest pairs but balances only statistically. See `npm run
 * bench -- subset` for both.
 *
 * Instance weights do not affect the choice (the balancer still uses them within the subset).
 * Members that fail are replaced once the resolver follows the client's endpoint states:
 * `resolver.follow(client)`.
 */
export function subsetResolver(resolver: Resolver, options: SubsetOptions): SubsetResolver {
  const factory = 'subsetResolver';
  if (!resolver || typeof resolver.watch !== 'function') throw new TypeError(`${factory}: the first argument must be a Resolver (an object with watch())`);
  checkOptionsObject(factory, options, false);
  const { clientId } = options;
  if (options.size === undefined) throw new TypeError(`${factory}: options.size is required`);
  if (clientId === undefined) throw new TypeError(`${factory}: options.clientId is required`);
  const size = integerOption(factory, 'options.size', options.size, 1, { min: 1 });
  const clientCount = integerOption(factory, 'options.clientCount', options.clientCount, undefined, { min: 1, max: MAX_CLIENTS });
  const loadFactor = numberOption(factory, 'options.loadFactor', options.loadFactor, DEFAULT_SUBSET_LOAD_FACTOR, { atLeast: 1 });
  if (clientCount !== undefined) integerOption(factory, 'options.clientId', clientId, 0, { min: 0, max: clientCount - 1 });
  else if (typeof clientId === 'number') numberOption(factory, 'options.clientId', clientId, 0);
  else stringOption(factory, 'options.clientId', clientId, '');
  const hash = clientHash(clientCount === undefined ? clientId : Number(clientId));

  /** This client's members and, after them, the servers that replace unusable ones, in order. */
  const choose = (addresses: readonly string[]): { members: Set<string>; replacements: string[] } => {
    const table = serverTable(addresses);
    const chosen =
      clientCount === undefined ? rendezvousSubset(table, hash, size) : Array.from(balancedSubsets(table, clientCount, size, loadFactor)[Number(clientId)]);
    // Twice `size` candidates: at most `size` are added, some of which may be unusable too.
    const order = replacementOrder(table, hash, new Set(chosen), 2 * size);
    return { members: new Set(chosen.map((i) => table.addresses[i])), replacements: order.map((i) => table.addresses[i]) };
  };

  const unusable = new Set<string>();
  const watches = new Set<() => void>();
  let refreshQueued = false;
  const refreshAll = (): void => {
    refreshQueued = false;
    for (const refresh of watches) refresh();
  };
  const noteState = (endpoint: SubsetEndpointState): void => {
    const bad = !endpoint.eligible && !endpoint.draining;
    if (bad === unusable.has(endpoint.address)) return;
    if (bad) unusable.add(endpoint.address);
    else unusable.delete(endpoint.address);
    // After the client's own update is done: its observers are told from inside it.
    if (!refreshQueued) {
      refreshQueued = true;
      queueMicrotask(refreshAll);
    }
  };

  return {
    watch(service: string, listener: ResolverListener): () => void {
      let lastKey: string | undefined;
      let chosen = { members: new Set<string>(), replacements: [] as string[] };
      let instances: Instance[] | undefined;
      let delivered: string | undefined;
      const deliver = (force: boolean): void => {
        if (instances === undefined) return;
        const listed = listedAddresses(chosen.members, chosen.replacements, unusable, size);
        const key = [...listed].join('\n');
        if (!force && key === delivered) return;
        delivered = key;
        // Malformed entries pass on, for the client to report as it reports every resolver's.
        listener.onUpdate(instances.filter((i) => i === null || typeof i !== 'object' || typeof i.address !== 'string' || listed.has(i.address)));
      };
      const refresh = (): void => deliver(false);
      watches.add(refresh);
      const stop = resolver.watch(service, {
        onUpdate(list: Instance[]) {
          if (!Array.isArray(list)) return listener.onUpdate(list);
          const addresses = list.filter((i) => i !== null && typeof i === 'object' && typeof i.address === 'string').map((i) => i.address);
          // Weight and tag changes pass through without recomputing: only membership moves the subset.
          const key = [...new Set(addresses)].sort().join('\n');
          if (key !== lastKey) {
            lastKey = key;
            chosen = choose(addresses);
          }
          instances = list;
          deliver(true);
        },
        onError: (error: Error) => listener.onError(error),
      });
      return () => {
        watches.delete(refresh);
        stop();
      };
    },
    ...(resolver.resolveNow ? { resolveNow: (service: string) => resolver.resolveNow!(service) } : {}),
    follow(source: SubsetStateSource): () => void {
      if (!source || typeof source.observe !== 'function') throw new TypeError(`${factory}: follow() takes a client (an object with observe())`);
      const forget = (endpoint: SubsetEndpointState): void => {
        if (unusable.delete(endpoint.address) && !refreshQueued) {
          refreshQueued = true;
          queueMicrotask(refreshAll);
        }
      };
      return source.observe({ onEndpointAdded: noteState, onEndpointChanged: noteState, onEndpointRemoved: forget });
    },
  };
}

/**
 * The members, then replacements in order while fewer than `size` listed servers are usable (at
 * most `size` replacements). A replacement that is itself unusable stays listed, so its recovery
 * is seen, and the next one is taken.
 */
function listedAddresses(members: ReadonlySet<string>, replacements: readonly string[], unusable: ReadonlySet<string>, size: number): Set<string> {
  const listed = new Set(members);
  let usable = 0;
  for (const address of members) if (!unusable.has(address)) usable++;
  for (let i = 0; i < replacements.length && usable < size && listed.size < members.size + size; i++) {
    listed.add(replacements[i]);
    if (!unusable.has(replacements[i])) usable++;
  }
  return listed;
}
