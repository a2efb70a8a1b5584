import type { ClientEndpoint } from './endpoint';
import type { EndpointSetObserver } from './endpoint-set';
import type { Logger } from './logger';

/** What middleware and observers may see of a client: its service, its endpoints and their changes. */
export interface ClientView {
  /** The name the resolver resolves. */
  readonly service: string;
  /** The target as configured, for messages and labels (never holds credentials). */
  readonly target: string;
  /** The endpoints from the resolver's list plus those still draining (live objects). */
  endpoints(): readonly ClientEndpoint[];
  /** Follows resolver updates and endpoint changes; returns a function that stops following. */
  observe(observer: EndpointSetObserver): () => void;
  /** Epoch ms of the last usable resolver answer, 0 before the first. */
  lastResolvedAt(): number;
  /** The client's logger, for middleware that tells of what it does (breaker transitions). */
  readonly logger?: Logger;
}
