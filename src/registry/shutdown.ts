import { checkOptionsObject, durationOption } from '../core/options';
import { abortableSleep } from '../core/sleep';

/** Blocking-query and watch clients see the removal within milliseconds; a second covers their in-flight picks. */
export const DEFAULT_SHUTDOWN_DRAIN_MS = 1_000;
/** Calls still running this long after shutdown began are cut off. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;
export const DEFAULT_SHUTDOWN_SIGNALS: readonly NodeJS.Signals[] = Object.freeze(['SIGTERM', 'SIGINT']);

export interface ShutdownOptions {
  /** Signals that start the shutdown. */
  signals?: readonly NodeJS.Signals[];
  /** Time between leaving the registry and refusing calls, for clients to see the instance gone. */
  drainMs?: number;
  /** How long in-flight calls get to finish before the server is forced down. */
  shutdownTimeoutMs?: number;
}

/** What deregisterOnShutdown needs of a server: grpc-js's `Server` fits. */
export interface ShutdownableServer {
  tryShutdown(callback: (error?: Error) => void): void;
  forceShutdown(): void;
}

/**
 * On one of the signals: `leave()` the registry, wait `drainMs` while the server still answers
 * calls, then shut the server down (forced after `shutdownTimeoutMs`). When no other listener for
 * the signal is left, the signal is raised again so the process ends the way it would have.
 * Returns a function that removes the signal listeners. Shared by every registry.
 */
export function deregisterOnSignals(
  where: string,
  server: ShutdownableServer,
  options: ShutdownOptions,
  leave: () => Promise<void>,
  report: (error: unknown) => void,
): () => void {
  if (!server || typeof server.tryShutdown !== 'function' || typeof server.forceShutdown !== 'function') {
    throw new TypeError(`${where}: server must be a grpc-js Server (with tryShutdown and forceShutdown)`);
  }
  checkOptionsObject(where, options, false);
  const signals = options.signals ?? DEFAULT_SHUTDOWN_SIGNALS;
  if (!Array.isArray(signals) || signals.length === 0 || signals.some((s) => typeof s !== 'string' || !/^SIG[A-Z0-9]+$/.test(s))) {
    throw new TypeError(`${where}: signals must be a non-empty array of signal names like "SIGTERM"`);
  }
  const drainMs = durationOption(where, 'drainMs', options.drainMs, DEFAULT_SHUTDOWN_DRAIN_MS);
  const timeoutMs = durationOption(where, 'shutdownTimeoutMs', options.shutdownTimeoutMs, DEFAULT_SHUTDOWN_TIMEOUT_MS, { min: 1 });

  let started = false;
  const detach = () => {
    for (const signal of signals) process.removeListener(signal, onSignal);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (started) return;
    started = true;
    detach();
    shutdownFor(signal).catch(report);
  };
  async function shutdownFor(signal: NodeJS.Signals) {
    try {
      await leave();
    } catch (error) {
      report(error);
    }
    if (drainMs > 0) await abortableSleep(drainMs);
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, timeoutMs);
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
    // Listening for a signal replaces Node's default of ending the process; with nobody else
    // listening, the signal is raised again so the process still ends as it was asked to.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  }
  for (const signal of signals) process.on(signal, onSignal);
  return detach;
}
