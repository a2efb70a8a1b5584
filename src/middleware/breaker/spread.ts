// Which endpoint failures came from, so that a service breaker can set aside the failures of the
// one endpoint with the most of them (an endpoint breaker deals with that one).

/** The key of failures that reached no endpoint: never one endpoint's business. */
export const NO_ENDPOINT = '';

/** Says whether the failures of the endpoint at `address` may be set aside. */
export type SetAside = (address: string) => boolean;

export function countUp(spread: Map<string, number>, address: string): void {
  spread.set(address, (spread.get(address) ?? 0) + 1);
}

/** The endpoint with the most failures and their count; failures that reached no endpoint never count here. */
export function worstOf(spread: ReadonlyMap<string, number>): { address: string; count: number } | undefined {
  let worst: { address: string; count: number } | undefined;
  for (const [address, count] of spread) {
    if (address !== NO_ENDPOINT && (worst === undefined || count > worst.count)) worst = { address, count };
  }
  return worst;
}
