import { monotonicClock, type MonotonicClock } from '../core/clock';
import { functionOption } from '../core/options';

/** Most picks between two clock reads: at a million picks per second, a read every millisecond. */
const MAX_STRIDE = 1024;

/** Clock reads aimed at per period: a change is seen within about 1/16 of the period at any call rate. */
const READS_PER_PERIOD = 16;

/**
 * Tells a picker when its time-dependent weights are due for an update without reading the clock
 * on every pick: the clock is read every `stride` picks, and the stride follows the call rate so
 * that reads come about READS_PER_PERIOD times per period (every pick at low rates). An update is
 * seen within about a sixteenth of the period after it is due. No timer, so nothing outlives a
 * picker that is dropped.
 */
export class RefreshSchedule {
  private countdown = 1;
  private stride = 1;
  private lastRead: number;
  private dueAt: number;

  constructor(
    private readonly now: () => number,
    private readonly periodMs: number,
  ) {
    this.lastRead = now();
    this.dueAt = this.lastRead + periodMs;
  }

  /** True once per period, on the first pick that notices it has passed. */
  due(): boolean {
    if (--this.countdown > 0) return false;
    const now = this.now();
    const gap = now - this.lastRead;
    this.lastRead = now;
    // Aim the next stride at the target gap from the rate just seen: down at once when picks slow
    // (a late update is what this must avoid), up at most twofold per read (a burst is not a rate).
    const target = this.periodMs / READS_PER_PERIOD;
    const aimed = gap > 0 ? (this.stride * target) / gap : Infinity;
    const stride = aimed > this.stride * 2 ? this.stride * 2 : aimed;
    this.stride = stride < 1 ? 1 : stride > MAX_STRIDE ? MAX_STRIDE : Math.floor(stride);
    this.countdown = this.stride;
    if (now < this.dueAt) return false;
    this.dueAt = now + this.periodMs;
    return true;
  }
}

/** The `now` option of a balancer: a monotonic clock in ms, checked; performance.now when absent. */
export function clockOption(where: string, now: MonotonicClock | undefined): MonotonicClock {
  return functionOption(where, 'options.now', now, monotonicClock);
}
