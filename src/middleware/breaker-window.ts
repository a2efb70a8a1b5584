import type { Logger } from '../client/logger';
import type { BreakerScope, BreakerSnapshot, BreakerState } from './circuit-breaker';

/** What a breaker's window is judged by. */
export interface WindowConfig {
  readonly errorRate: number;
  readonly minSamples: number;
  readonly windowMs: number;
  readonly buckets: number;
  readonly bucketMs: number;
  /** 0: the consecutive-failure rule is off. */
  readonly consecutiveFailures: number;
  readonly now: () => number;
}

/** The key of failures that reached no endpoint: never one endpoint's business. */
const NO_ENDPOINT = '';

/**
 * One breaker: its state and a sliding window of outcomes kept in a ring of buckets. Rolling the
 * window costs at most one pass over the buckets, however long the breaker sat idle.
 *
 * With `spread`, the window also keeps which endpoint each failure came from, so that a judge can
 * set aside the failures of the one endpoint that had the most (see `trips`): a service breaker
 * must not open because a single instance died while the others answer.
 */
export class Breaker {
  state: BreakerState = 'closed';
  consecutive = 0;
  /** Samples and failures over the whole window, kept as running sums of the buckets. */
  total = 0;
  failed = 0;
  openUntil = 0;
  /** Probes in flight, and successes of this half-open spell. */
  probes = 0;
  probeSuccesses = 0;
  reason = '';
  timer: unknown = undefined;
  /** Where its transitions are told: the logger of the client it belongs to. */
  logger: Logger | undefined = undefined;
  private readonly totals: Uint32Array;
  private readonly failures: Uint32Array;
  /** Per bucket, failures by endpoint address; allocated on a bucket's first failure. */
  private readonly bucketSpread: (Map<string, number> | undefined)[] | undefined;
  /** Failures by endpoint over the window, and over the current run of failures. */
  private readonly windowSpread: Map<string, number> | undefined;
  private readonly runSpread: Map<string, number> | undefined;
  private current = 0;
  private currentStart: number;

  constructor(
    private readonly config: WindowConfig,
    readonly key: string,
    readonly service: string,
    readonly target: string,
    spread = false,
  ) {
    this.totals = new Uint32Array(config.buckets);
    this.failures = new Uint32Array(config.buckets);
    if (spread) {
      this.bucketSpread = new Array(config.buckets).fill(undefined);
      this.windowSpread = new Map();
      this.runSpread = new Map();
    }
    this.currentStart = config.now();
  }

  /**
   * Adds an outcome; true when it trips the breaker. `address` is the endpoint the outcome came
   * from (with spread); `setAside(address)` says whether the failures of the endpoint with the
   * most of them may be set aside, because something else (an endpoint breaker) deals with it.
   */
  add(failed: boolean, address?: string, setAside?: (address: string) => boolean): boolean {
    const config = this.config;
    this.roll(config.now());
    this.totals[this.current]++;
    this.total++;
    if (!failed) {
      this.consecutive = 0;
      this.runSpread?.clear();
      return false;
    }
    this.failures[this.current]++;
    this.failed++;
    this.consecutive++;
    if (this.windowSpread !== undefined) this.noteSpread(address ?? NO_ENDPOINT);
    if (config.consecutiveFailures > 0 && this.consecutive >= config.consecutiveFailures) {
      const worst = setAside !== undefined && this.runSpread !== undefined ? worstOf(this.runSpread) : undefined;
      if (worst === undefined || this.consecutive - worst.count >= config.consecutiveFailures || !setAside!(worst.address)) {
        this.reason = `${this.consecutive} failures in a row`;
        return true;
      }
    }
    if (this.total >= config.minSamples && this.failed >= config.errorRate * this.total) {
      const worst = setAside !== undefined && this.windowSpread !== undefined ? worstOf(this.windowSpread) : undefined;
      // Judged again without the worst endpoint's failures: one instance dying is not an
      // outage, and the rest must make a sample of their own.
      const rest = worst === undefined ? 0 : this.total - worst.count;
      if (worst === undefined || (rest >= config.minSamples && this.failed - worst.count >= config.errorRate * rest) || !setAside!(worst.address)) {
        this.reason = `${this.failed} of ${this.total} calls failed in the last ${config.windowMs / 1000} s`;
        return true;
      }
    }
    return false;
  }

  /** Starts afresh, as after closing: old failures must not trip it again at once. */
  reset(): void {
    this.totals.fill(0);
    this.failures.fill(0);
    this.total = 0;
    this.failed = 0;
    this.consecutive = 0;
    this.current = 0;
    this.currentStart = this.config.now();
    this.bucketSpread?.fill(undefined);
    this.windowSpread?.clear();
    this.runSpread?.clear();
  }

  snapshot(scope: BreakerScope): BreakerSnapshot {
    const now = this.config.now();
    this.roll(now);
    return {
      scope,
      key: this.key,
      service: this.service,
      state: this.state,
      samples: this.total,
      failures: this.failed,
      consecutiveFailures: this.consecutive,
      halfOpenInMs: this.state === 'open' ? Math.max(0, this.openUntil - now) : 0,
    };
  }

  /** Moves the window to `now`, emptying the buckets it slides past: O(min(elapsed, buckets)). */
  roll(now: number): void {
    const { bucketMs, buckets } = this.config;
    const elapsed = now - this.currentStart;
    if (elapsed < bucketMs) return;
    const steps = Math.floor(elapsed / bucketMs);
    this.currentStart += steps * bucketMs;
    if (steps >= buckets) {
      this.totals.fill(0);
      this.failures.fill(0);
      this.total = 0;
      this.failed = 0;
      this.bucketSpread?.fill(undefined);
      this.windowSpread?.clear();
      return;
    }
    for (let i = 0; i < steps; i++) {
      const next = this.current + 1 === buckets ? 0 : this.current + 1;
      this.current = next;
      this.total -= this.totals[next];
      this.failed -= this.failures[next];
      this.totals[next] = 0;
      this.failures[next] = 0;
      const spread = this.bucketSpread?.[next];
      if (spread !== undefined) {
        this.bucketSpread![next] = undefined;
        for (const [address, count] of spread) {
          const left = (this.windowSpread!.get(address) ?? 0) - count;
          if (left > 0) this.windowSpread!.set(address, left);
          else this.windowSpread!.delete(address);
        }
      }
    }
  }

  private noteSpread(address: string): void {
    let bucket = this.bucketSpread![this.current];
    if (bucket === undefined) this.bucketSpread![this.current] = bucket = new Map();
    bucket.set(address, (bucket.get(address) ?? 0) + 1);
    this.windowSpread!.set(address, (this.windowSpread!.get(address) ?? 0) + 1);
    this.runSpread!.set(address, (this.runSpread!.get(address) ?? 0) + 1);
  }
}

/** The endpoint with the most failures and their count; failures that reached no endpoint never count here. */
function worstOf(spread: Map<string, number>): { address: string; count: number } | undefined {
  let worst: { address: string; count: number } | undefined;
  for (const [address, count] of spread) {
    if (address !== NO_ENDPOINT && (worst === undefined || count > worst.count)) worst = { address, count };
  }
  return worst;
}
