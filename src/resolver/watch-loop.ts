import { backoffDelay, type BackoffOptions } from '../core/backoff';
import type { Clock } from '../core/clock';
import { abortableSleep } from '../core/sleep';
import { watchReporter } from './listener';
import type { Instance, ResolverListener } from './types';

// The one watch loop of the resolvers. A resolver says how to read a service's list once (a DNS
// query, a Consul blocking query, an etcd range read) and when to read again; the loop does the
// rest the same way for all of them: backoff after failures, one list per change whatever the
// order of the answer, the last good list kept through failures and empty answers, every error to
// the listener, and an end as soon as the watch is stopped.

/** A list of instances as a source found it. */
export interface WatchList {
  readonly instances: readonly Instance[];
  /** Instances the source had to skip, and why; reported once per distinct message. */
  readonly problem?: Error;
}

/** One successful read: the list, and how long to wait before the next read. */
export interface WatchAnswer extends WatchList {
  /** In ms, from the end of this read; Infinity waits until refresh(). */
  readonly nextMs: number;
}

export interface WatchLoopOptions {
  /** Spacing of the reads after consecutive failures. */
  readonly backoff: BackoffOptions;
  readonly random: () => number;
  readonly now: Clock;
  /**
   * The error reported instead of delivering an empty list: a stale list is better than none,
   * and an empty answer is more often a registry hiccup than a dead service.
   */
  readonly emptyError: () => Error;
}

export interface WatchLoop {
  /** Aborted when the watch stops: sources pass it to their requests. */
  readonly signal: AbortSignal;
  /** Settles when the loop has ended (after stop()). */
  readonly done: Promise<void>;
  /** Delivers a list the source learned between reads (a pushed change). */
  publish(list: WatchList): void;
  /** Reports an error to the listener; the current list stays. */
  report(error: unknown): void;
  /**
   * Reads again at `at` (epoch ms by the loop's clock; now when omitted) if that is sooner than
   * planned. Ignored while a read is under way: its answer is as fresh.
   */
  refresh(at?: number): void;
  stop(): void;
}

/** The order the lists are delivered in: by address, then id. */
function compareInstances(a: Instance, b: Instance): number {
  if (a.address !== b.address) return a.address < b.address ? -1 : 1;
  const x = a.id ?? '';
  const y = b.id ?? '';
  return x < y ? -1 : x > y ? 1 : 0;
}

function instanceKey(instance: Instance): string {
  const tags = instance.tags;
  const tagPairs = tags ? Object.keys(tags).sort().map((key) => [key, tags[key]]) : null;
  return JSON.stringify([instance.address, instance.weight ?? null, instance.id ?? null, tagPairs]);
}

/** A key equal for two lists exactly when they hold the same instances, in whatever order, tags in whatever order. */
export function listKey(instances: readonly Instance[]): string {
  return instances.map(instanceKey).sort().join('\n');
}

/**
 * Starts reading with `read` (first in a microtask, never inside the caller) until stop(). Each
 * answer is compared with the last list delivered and delivered only when it differs; a failure
 * is reported and followed by a read after `backoff`, and the next good answer is delivered even
 * if unchanged, so the listener sees the recovery.
 */
export function startWatchLoop(listener: ResolverListener, options: WatchLoopOptions, read: (signal: AbortSignal) => Promise<WatchAnswer>): WatchLoop {
  const controller = new AbortController();
  const { signal } = controller;
  const { update, report } = watchReporter(listener, signal);
  const { backoff, random, now, emptyError } = options;
  let lastKey: string | undefined;
  let lastProblem = '';
  let reading = false;
  let dueAt = Infinity;
  /** Ends the current pause early; set only while pausing. */
  let waker: AbortController | undefined;
  let woken = false;

  const publish = (list: WatchList) => {
    if (signal.aborted) return;
    const problem = list.problem?.message ?? '';
    if (list.problem && problem !== lastProblem) report(list.problem);
    lastProblem = problem;
    const instances = [...list.instances].sort(compareInstances);
    const key = listKey(instances);
    if (key === lastKey) return;
    lastKey = key;
    if (instances.length === 0) report(emptyError());
    else update(instances);
  };

  /** Waits `ms`, or until refresh() brings the due time forward, or until stop(). */
  const pause = async (ms: number) => {
    dueAt = now() + ms;
    let wait = ms;
    while (!signal.aborted) {
      const wake = (waker = new AbortController());
      woken = false;
      await abortableSleep(wait, wake.signal);
      waker = undefined;
      if (!woken) {
        // The timer ran out; an endless wait is only ever cut short by refresh() or stop().
        if (dueAt !== Infinity) return;
        continue;
      }
      wait = dueAt - now();
      if (wait <= 0) return;
    }
  };

  const run = async () => {
    await Promise.resolve();
    for (let failures = 0; !signal.aborted; ) {
      let delay: number;
      reading = true;
      try {
        const answer = await read(signal);
        if (signal.aborted) return;
        failures = 0;
        publish(answer);
        delay = answer.nextMs;
      } catch (error) {
        if (signal.aborted) return;
        failures++;
        lastKey = undefined;
        report(error);
        delay = backoffDelay(failures, backoff, random);
      } finally {
        reading = false;
      }
      if (delay > 0) await pause(delay);
    }
  };

  const done = run().catch(report);
  return {
    signal,
    done,
    publish,
    report,
    refresh(at = -Infinity) {
      if (reading || !waker || at >= dueAt) return;
      dueAt = at;
      woken = true;
      waker.abort();
    },
    stop() {
      if (signal.aborted) return;
      controller.abort();
      waker?.abort();
    },
  };
}

/** A watch that cannot start: `error` reaches the listener in a microtask; the stop function does nothing more. */
export function failedWatch(listener: ResolverListener, error: Error): () => void {
  const controller = new AbortController();
  const { report } = watchReporter(listener, controller.signal);
  queueMicrotask(() => report(error));
  return () => controller.abort();
}
