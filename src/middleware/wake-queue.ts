import type { Timers } from './budget';

/** Past this many spent slots at the front, the wake-up queue is compacted. */
const QUEUE_COMPACT_AT = 1024;

/** What waits in the queue: a hedged call, woken when its first delay has passed. */
export interface Sleeper {
  /** Finished: skipped when its time comes. */
  readonly done: boolean;
  inQueue: boolean;
  queuedAt: number;
  wake(): void;
}

/**
 * One timer for the first hedge of every call instead of one per call: the delay is the same for
 * all, so wake-up times arrive in order and a FIFO queue stays sorted. Calls that finish early
 * stay queued (no search to remove them) and are skipped when their time comes.
 */
export class WakeQueue {
  private items: (Sleeper | undefined)[] = [];
  private head = 0;
  private armed = false;
  private readonly fire = (): void => this.drain();

  constructor(
    private readonly now: () => number,
    private readonly timers: Timers,
  ) {}

  push(call: Sleeper, at: number): void {
    call.queuedAt = at;
    call.inQueue = true;
    this.items.push(call);
    if (!this.armed) this.arm(at);
  }

  private arm(at: number): void {
    this.armed = true;
    const wait = at - this.now();
    const handle = this.timers.setTimeout(this.fire, wait > 0 ? wait : 0);
    // The calls in flight keep the process alive; finished calls waiting here to be dropped must not.
    if (typeof handle === 'object' && handle !== null && 'unref' in handle && typeof handle.unref === 'function') handle.unref();
  }

  private drain(): void {
    this.armed = false;
    const t = this.now();
    const items = this.items;
    while (this.head < items.length) {
      const call = items[this.head];
      // Slots from the head on are filled; the check only tells the type so.
      if (call === undefined) break;
      if (!call.done && call.queuedAt > t) break;
      items[this.head++] = undefined;
      call.inQueue = false;
      if (!call.done) call.wake();
    }
    if (this.head === items.length) {
      items.length = 0;
      this.head = 0;
      return;
    }
    if (this.head >= QUEUE_COMPACT_AT && this.head * 2 >= items.length) {
      this.items = items.slice(this.head);
      this.head = 0;
    }
    const first = this.items[this.head];
    if (first !== undefined) this.arm(first.queuedAt);
  }
}

