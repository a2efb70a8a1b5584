import { asError } from '../discovery/errors';
import type { Instance, ResolverListener } from './types';

/**
 * A resolver's side of one watch: delivers to the listener until `signal` is aborted, and never
 * lets a listener that throws end the watch (an update that throws is reported as an error; an
 * error handler that throws has nowhere further to report to).
 */
export function watchReporter(listener: ResolverListener, signal: AbortSignal): { update(instances: Instance[]): void; report(error: unknown): void } {
  const report = (error: unknown) => {
    if (signal.aborted) return;
    try {
      listener.onError(asError(error));
    } catch {
      // Nowhere further to report to.
    }
  };
  return {
    update(instances) {
      if (signal.aborted) return;
      try {
        listener.onUpdate(instances);
      } catch (error) {
        report(error);
      }
    },
    report,
  };
}
