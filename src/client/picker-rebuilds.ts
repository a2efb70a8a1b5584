import type { MonotonicClock } from '../core/clock';
import { timerDelay } from '../core/duration';

/** Rebuilds are spaced at least this many times their own duration apart: at most ~10 % of the time goes to them. */
const REBUILD_COST_FACTOR = 10;
/**
 * However slow the last rebuild was (the first ones run before the JIT has warmed up), the picker
 * lags the endpoints by at most this long.
 */
const MAX_REBUILD_HOLD_MS = 50;

/**
 * When the picker of an endpoint set is rebuilt: at once, at the end of a batch of changes, or
 * held back when the last rebuild was very recent, so that rebuilds take at most a tenth of the
 * time (a consistent-hash ring over thousands of endpoints takes tens of milliseconds to build,
 * and each of them connecting changes the set).
 */
export class PickerRebuilds {
  /** A change has not reached the picker yet. */
  dirty = false;
  private batching = false;
  private timer: NodeJS.Timeout | undefined = undefined;
  private lastBuildEnd = 0;
  private lastBuildMs = 0;
  private stopped = false;

  /** `build` makes the picker; `built` runs after each build, outside its timing. */
  constructor(
    private readonly clock: MonotonicClock,
    private readonly build: () => void,
    private readonly built: () => void,
  ) {}

  /** True while a batch of changes is being applied. */
  get inBatch(): boolean {
    return this.batching;
  }

  /** Applies a batch of changes with one rebuild at the end, when any was due. */
  batch(apply: () => void): void {
    this.batching = true;
    try {
      apply();
    } finally {
      this.batching = false;
    }
    if (this.dirty) this.rebuild();
  }

  /** A rebuild is due: at once, or held back (see the class comment). */
  markDirty(): void {
    this.dirty = true;
    if (this.batching || this.timer || this.stopped) return;
    const hold = Math.min(this.lastBuildMs * REBUILD_COST_FACTOR, MAX_REBUILD_HOLD_MS);
    const wait = this.lastBuildEnd + hold - this.clock();
    if (wait <= 0) {
      this.rebuild();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.dirty) this.rebuild();
    }, timerDelay(wait));
    this.timer.unref();
  }

  /** Rebuilds now, whether held back or not. */
  rebuild(): void {
    this.dirty = false;
    this.clearTimer();
    if (this.stopped) return;
    const started = this.clock();
    this.build();
    this.lastBuildEnd = this.clock();
    this.lastBuildMs = this.lastBuildEnd - started;
    this.built();
  }

  /** No rebuild from now on; a held-back one is dropped. */
  stop(): void {
    this.stopped = true;
    this.clearTimer();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
