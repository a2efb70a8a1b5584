import { timerDelay } from './duration';

/** Resolves after `ms`, or at once when `signal` aborts (never rejects); the timer never outlives it. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, timerDelay(ms));
    signal.addEventListener('abort', done, { once: true });
  });
}
