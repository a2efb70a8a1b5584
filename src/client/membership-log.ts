import type { Logger } from '../core/logger';

/** A log line names at most this many addresses; the counts say the rest. */
const MAX_LOGGED_ADDRESSES = 20;

/**
 * The addresses that joined and left an endpoint set since the last resolver update, told as one
 * line per update: membership changes at info level, an unchanged list (a re-resolution) at debug.
 */
export class MembershipLog {
  private added: string[] = [];
  private removed: string[] = [];

  constructor(
    private readonly logger: Logger,
    private readonly service: string,
  ) {}

  add(address: string): void {
    this.added.push(address);
  }

  remove(address: string): void {
    this.removed.push(address);
  }

  /** Tells what changed since the last call, and starts over. */
  flush(instances: number): void {
    const { logger, service, added, removed } = this;
    this.added = [];
    this.removed = [];
    if (added.length === 0 && removed.length === 0) {
      logger.debug({ service, instances }, 'resolver update; no change');
      return;
    }
    logger.info(
      { service, instances, added: added.slice(0, MAX_LOGGED_ADDRESSES), removed: removed.slice(0, MAX_LOGGED_ADDRESSES), addedCount: added.length, removedCount: removed.length },
      'endpoints changed',
    );
  }
}
