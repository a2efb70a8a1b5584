// Which circuit breakers sit in a client's chain. Breakers announce themselves when a client
// attaches them; others in the same chain find them here instead of being wired by hand: metrics
// follows their transitions, and a service breaker learns whether an endpoint breaker deals with
// a single failing endpoint.

import type { ClientView } from '../core/view';
import type { BreakerListener, BreakerScope, BreakerSnapshot } from './breaker/types';

/** A breaker as others in its chain see it. */
export interface ChainBreaker {
  readonly scope: BreakerScope;
  onStateChange(listener: BreakerListener): () => void;
  states(): BreakerSnapshot[];
}

/** Endpoint scope: whether the breaker has ejected, or may eject, the endpoint at `address` of `client`. */
export type CanEject = (client: ClientView, address: string) => boolean;

interface Entry {
  readonly breakers: Map<ChainBreaker, CanEject | undefined>;
  readonly followers: Set<(breaker: ChainBreaker) => void>;
}

const byClient = new WeakMap<ClientView, Entry>();

function entryOf(client: ClientView): Entry {
  let entry = byClient.get(client);
  if (entry === undefined) byClient.set(client, (entry = { breakers: new Map(), followers: new Set() }));
  return entry;
}

/** A breaker joins `client`'s chain; returns the function that takes it out again. */
export function announceBreaker(client: ClientView, breaker: ChainBreaker, canEject?: CanEject): () => void {
  const entry = entryOf(client);
  entry.breakers.set(breaker, canEject);
  for (const follower of entry.followers) follower(breaker);
  return () => entry.breakers.delete(breaker);
}

/** Calls `follower` for each breaker in `client`'s chain, now and as they are attached. */
export function followBreakers(client: ClientView, follower: (breaker: ChainBreaker) => void): () => void {
  const entry = entryOf(client);
  entry.followers.add(follower);
  for (const breaker of entry.breakers.keys()) follower(breaker);
  return () => entry.followers.delete(follower);
}

/** Whether an endpoint breaker in `client`'s chain deals with the endpoint at `address`. */
export function endpointBreakerEjects(client: ClientView, address: string): boolean {
  const breakers = byClient.get(client)?.breakers;
  if (breakers === undefined) return false;
  for (const canEject of breakers.values()) if (canEject?.(client, address)) return true;
  return false;
}
