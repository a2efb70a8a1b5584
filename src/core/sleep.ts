import { timerDelay } from './duration';

/**
 * Resolves after `ms`, or at once when `signal` aborts (never rejects): loops that wait between
 * retries end as soon as their owner stops them, leaving no timer behind.
 */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, timerDelay(ms));
    signal?.addEventListener('abort', done, { once: true });
  });
}
