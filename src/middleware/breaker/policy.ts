import { FailureRate, type RateConfig } from '../breaker-window';
import { countUp, NO_ENDPOINT, worstOf, type SetAside } from './spread';
import type { OpenPolicy, PolicyCounts } from './types';

/** What the breaker's open policy is judged by. */
export interface PolicyConfig extends RateConfig {
  /** 0: the consecutive-failure rule is off. */
  readonly consecutiveFailures: number;
}

/**
 * The consecutive-failure rule: trips on `limit` failures in a row. With `spread`, it keeps where
 * the failures of the current run came from, so the judge can set one endpoint's aside.
 */
class FailureRun {
  count = 0;
  private readonly spread: Map<string, number> | undefined;

  constructor(
    private readonly limit: number,
    spread: boolean,
  ) {
    if (spread) this.spread = new Map();
  }

  success(): void {
    this.count = 0;
    this.spread?.clear();
  }

  failure(address: string): void {
    this.count++;
    if (this.spread !== undefined) countUp(this.spread, address);
  }

  judge(setAside: SetAside | undefined): string | undefined {
    if (this.limit === 0 || this.count < this.limit) return undefined;
    const worst = setAside !== undefined && this.spread !== undefined ? worstOf(this.spread) : undefined;
    if (worst !== undefined && setAside !== undefined && this.count - worst.count < this.limit && setAside(worst.address)) return undefined;
    return `${this.count} failures in a row`;
  }
}

/**
 * The built-in policy: a breaker opens on `consecutiveFailures` in a row, or when the window
 * holds an `errorRate` share of failures over at least `minSamples` outcomes. With `setAside`
 * (service scope), the failures of the one endpoint with the most of them are set aside before
 * judging, when `setAside` says something else deals with that endpoint.
 */
export class FailurePolicy implements OpenPolicy {
  private readonly rate: FailureRate;
  private readonly run: FailureRun;

  constructor(
    private readonly config: PolicyConfig,
    private readonly setAside?: SetAside,
  ) {
    const spread = setAside !== undefined;
    this.rate = new FailureRate(config, spread);
    this.run = new FailureRun(config.consecutiveFailures, spread);
  }

  success(): void {
    this.rate.add(false, NO_ENDPOINT);
    this.run.success();
  }

  failure(address: string | undefined): string | undefined {
    const from = address ?? NO_ENDPOINT;
    this.rate.add(true, from);
    this.run.failure(from);
    return this.run.judge(this.setAside) ?? this.rate.judge(this.setAside);
  }

  reset(): void {
    this.rate.reset();
    this.run.success();
  }

  counts(): PolicyCounts {
    this.rate.roll(this.config.now());
    return { samples: this.rate.total, failures: this.rate.failed, consecutiveFailures: this.run.count };
  }
}
