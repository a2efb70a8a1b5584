import type { MonotonicClock } from '../core/clock';
import { countUp, worstOf, type SetAside } from './breaker/spread';

/** What the failure-rate rule is judged by. */
export interface RateConfig {
  readonly errorRate: number;
  readonly minSamples: number;
  readonly windowMs: number;
  readonly buckets: number;
  readonly bucketMs: number;
  readonly now: MonotonicClock;
}

/**
 * The failure-rate rule: a sliding window of outcomes kept in a ring of buckets, tripping when at
 * least `minSamples` outcomes hold an `errorRate` share of failures. Rolling the window costs at
 * most one pass over the buckets, however long the breaker sat idle; counting an outcome
 * allocates nothing.
 *
 * With `spread`, the window also keeps which endpoint each failure came from, so that the judge
 * can set aside the failures of the one endpoint that had the most: a service breaker must not
 * open because a single instance died while the others answer.
 */
export class FailureRate {
  /** Samples and failures over the whole window, kept as running sums of the buckets. */
  total = 0;
  failed = 0;
  private readonly totals: Uint32Array;
  private readonly failures: Uint32Array;
  /** Per bucket, failures by endpoint address; allocated on a bucket's first failure. */
  private readonly bucketSpread: (Map<string, number> | undefined)[] | undefined;
  /** Failures by endpoint over the window. */
  private readonly windowSpread: Map<string, number> | undefined;
  private current = 0;
  private currentStart: number;

  constructor(
    private readonly config: RateConfig,
    spread: boolean,
  ) {
    this.totals = new Uint32Array(config.buckets);
    this.failures = new Uint32Array(config.buckets);
    if (spread) {
      this.bucketSpread = new Array<Map<string, number> | undefined>(config.buckets).fill(undefined);
      this.windowSpread = new Map();
    }
    this.currentStart = config.now();
  }

  /** Counts an outcome, from the endpoint at `address` (NO_ENDPOINT when none was reached). */
  add(failed: boolean, address: string): void {
    this.roll(this.config.now());
    this.totals[this.current]++;
    this.total++;
    if (!failed) return;
    this.failures[this.current]++;
    this.failed++;
    if (this.bucketSpread === undefined || this.windowSpread === undefined) return;
    let bucket = this.bucketSpread[this.current];
    if (bucket === undefined) this.bucketSpread[this.current] = bucket = new Map();
    countUp(bucket, address);
    countUp(this.windowSpread, address);
  }

  /** Why the window trips the breaker, or undefined. */
  judge(setAside: SetAside | undefined): string | undefined {
    const { minSamples, errorRate, windowMs } = this.config;
    if (this.total < minSamples || this.failed < errorRate * this.total) return undefined;
    const worst = setAside !== undefined && this.windowSpread !== undefined ? worstOf(this.windowSpread) : undefined;
    if (worst !== undefined && setAside !== undefined) {
      // Judged again without the worst endpoint's failures: one instance dying is not an
      // outage, and the rest must make a sample of their own.
      const rest = this.total - worst.count;
      const restTrips = rest >= minSamples && this.failed - worst.count >= errorRate * rest;
      if (!restTrips && setAside(worst.address)) return undefined;
    }
    return `${this.failed} of ${this.total} calls failed in the last ${windowMs / 1000} s`;
  }

  reset(): void {
    this.clear();
    this.current = 0;
    this.currentStart = this.config.now();
  }

  /** Moves the window to `now`, emptying the buckets it slides past: O(min(elapsed, buckets)). */
  roll(now: number): void {
    const { bucketMs, buckets } = this.config;
    const elapsed = now - this.currentStart;
    if (elapsed < bucketMs) return;
    const steps = Math.floor(elapsed / bucketMs);
    this.currentStart += steps * bucketMs;
    if (steps >= buckets) {
      this.clear();
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
      if (spread !== undefined && this.bucketSpread !== undefined && this.windowSpread !== undefined) {
        this.bucketSpread[next] = undefined;
        for (const [address, count] of spread) {
          const left = (this.windowSpread.get(address) ?? 0) - count;
          if (left > 0) this.windowSpread.set(address, left);
          else this.windowSpread.delete(address);
        }
      }
    }
  }

  private clear(): void {
    this.totals.fill(0);
    this.failures.fill(0);
    this.total = 0;
    this.failed = 0;
    this.bucketSpread?.fill(undefined);
    this.windowSpread?.clear();
  }
}
