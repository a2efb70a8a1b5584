import type { MonotonicClock } from '../core/clock';

/** Decay time of the failure rate: the last ten seconds or so, as Kitex's breaker window. */
export const DEFAULT_DECAY_MS = 10_000;

/**
 * Time constant of the latency average when replies get faster, and of its decay while an
 * endpoint gets no calls. Finagle and Linkerd use 10 s with a pure peak (every slower reply takes
 * over at once); measured here, that lets one pause of the client's own event loop, which every
 * endpoint's calls see at once, mark a fast endpoint as slow for half a minute and hide a
 * genuinely slow one.
 */
export const LATENCY_DECAY_MS = 2_000;
/** Time constant when replies get slower: ten times quicker, so a slowing endpoint is avoided within a fraction of a second. */
export const LATENCY_RISE_MS = 200;

/**
 * The time-decayed averages of one endpoint's calls: the share that failed and the latency.
 * Both weigh a sample by the time since the last one, not per call, so they mean the same at 10
 * and 10,000 calls per second. Sampling allocates nothing.
 */
export class EndpointStats {
  private failureEwma = 0;
  private lastSampleAt = 0;
  /** Latency average as of `latencyAt`; negative before the first sample. */
  private latencyAverage = -1;
  private latencySamples = 0;
  private latencyAt = 0;

  constructor(private readonly now: MonotonicClock) {}

  /**
   * Moving average of call latency in ms, peak-sensitive in the manner of Finagle's peak EWMA: it
   * rises ten times faster than it falls, so a slowing endpoint is avoided within a fraction of a
   * second, and it decays toward zero while the endpoint gets no calls, so one left alone for
   * being slow is tried again after a few seconds. Undefined before the first sample.
   */
  latencyMs(): number | undefined {
    const average = this.latencyAverage;
    if (average < 0) return undefined;
    const idle = this.now() - this.latencyAt;
    return idle > 0 ? average * Math.exp(-idle / LATENCY_DECAY_MS) : average;
  }

  /** Time-decayed share of recent calls that failed, 0..1. */
  failureRate(): number {
    return this.failureEwma * Math.exp(-Math.max(this.now() - this.lastSampleAt, 0) / DEFAULT_DECAY_MS);
  }

  /** One call ended; `latencyMs` is undefined when it is no latency sample (a stream, a cancel). */
  sample(failed: boolean, latencyMs: number | undefined): void {
    const now = this.now();
    const elapsed = now - this.lastSampleAt;
    this.lastSampleAt = now;
    // Weight of the old average: decays with time since the last sample.
    const keep = Math.exp(-Math.max(elapsed, 0) / DEFAULT_DECAY_MS);
    this.failureEwma = this.failureEwma * keep + (failed ? 1 - keep : 0);
    if (latencyMs === undefined) return;
    const average = this.latencyAverage;
    if (average < 0) {
      this.latencyAverage = latencyMs;
      this.latencySamples = 1;
    } else {
      // After a long gap the new sample simply takes over. Early on, each sample counts at least
      // as much as in a plain mean of all so far, so the first replies of a fresh process (slow
      // while the JIT warms up) do not linger for seconds.
      const gap = Math.max(now - this.latencyAt, 0);
      const tau = latencyMs > average ? LATENCY_RISE_MS : LATENCY_DECAY_MS;
      const weight = Math.max(1 - Math.exp(-gap / tau), 1 / ++this.latencySamples);
      this.latencyAverage = average + (latencyMs - average) * weight;
    }
    this.latencyAt = now;
  }
}
