import type { ClientEndpoint } from './endpoint';

/** Why nothing could be picked: whether waiting can help, and what to tell the caller if not. */
export interface Unavailability {
  readonly wait: boolean;
  readonly message: string;
}

/** What an endpoint set knows when nothing could be picked. */
export interface SetCondition {
  readonly service: string;
  readonly target: string;
  /** True once the resolver has answered. */
  readonly resolved: boolean;
  /** The endpoints of the resolver's list (not the draining ones). */
  readonly endpoints: readonly ClientEndpoint[];
  readonly lastError: Error | undefined;
}

/**
 * Whether a call that found nothing to pick should wait for a change, and the message for the
 * caller if not: names the service, the target and why, counting the endpoints by reason.
 */
export function unavailability(set: SetCondition): Unavailability {
  const { service, target, endpoints, lastError } = set;
  const where = `"${service}" (${target})`;
  if (!set.resolved) return { wait: true, message: `no endpoints for ${where} yet: waiting for the first resolution` };
  if (endpoints.length === 0) {
    const why = lastError ? `resolver error: ${lastError.message}` : 'the resolver returned no instances';
    return { wait: false, message: `no endpoints for ${where}: ${why}` };
  }
  const counts = new Map<string, number>();
  let connecting = false;
  for (const endpoint of endpoints) {
    const reason = unpickable(endpoint);
    if (reason === 'connecting') connecting = true;
    counts.set(reason, (counts.get(reason) ?? 0) + 1);
  }
  const detail = Array.from(counts, ([reason, n]) => `${n} ${reason}`).join(', ');
  const error = lastError ? `; last resolver error: ${lastError.message}` : '';
  return { wait: connecting, message: `no ready endpoint for ${where}: ${endpoints.length} known, ${detail}${error}` };
}

/** Why the balancer would not pick `endpoint`, in the words of the message above. */
function unpickable(endpoint: ClientEndpoint): string {
  if (endpoint.ejected) return 'ejected by circuit breaker';
  if (!endpoint.serving) return 'not serving (health check)';
  switch (endpoint.state) {
    case 'ready':
      return 'ready';
    case 'transient_failure':
      return 'failing to connect';
    default:
      return 'connecting';
  }
}
