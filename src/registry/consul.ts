import { ConsulAccess, ConsulError, type ConsulAnswer, type ConsulConnectionOptions } from '../discovery/consul-access';
import { asError } from '../discovery/errors';
import { functionOption, requiredString } from '../core/options';
import { prepare, type ConsulRegistration } from './consul-registration';
import { deregisterOnSignals, type ShutdownableServer, type ShutdownOptions } from './shutdown';

export type { ConsulCheck, ConsulRegistration, Duration, GrpcCheck, HttpCheck, TcpCheck, TtlCheck } from './consul-registration';
export type { ShutdownableServer, ShutdownOptions } from './shutdown';

export interface RegisteredInstance {
  readonly id: string;
  readonly name: string;
  /** Removes this instance from Consul and stops its heartbeat. */
  deregister(): Promise<void>;
}

export interface ConsulRegistryOptions extends ConsulConnectionOptions {
  /** Failures that happen in the background (TTL heartbeats, shutdown). Default: a process warning. */
  onError?: (error: Error) => void;
}

export interface ConsulRegistry {
  /** Registers an instance with the local agent; registering an existing id replaces it (e.g. a new weight). */
  register(registration: ConsulRegistration): Promise<RegisteredInstance>;
  /** Deregisters one instance by id, or, without an id, every instance this registry registered. */
  deregister(id?: string): Promise<void>;
  /**
   * On one of `signals`: deregister everything, wait `drainMs` while the server still answers
   * calls, then shut the server down (forced after `shutdownTimeoutMs`). When no other listener
   * for the signal is left, the signal is raised again so the process ends the way it would have.
   * Returns a function that removes the signal listeners.
   */
  deregisterOnShutdown(server: ShutdownableServer, options?: ShutdownOptions): () => void;
}

/** Registers gRPC servers with the local Consul agent, keeps TTL checks alive, deregisters on shutdown. */
export function consulRegistry(options: ConsulRegistryOptions = {}): ConsulRegistry {
  const client = new ConsulAccess(options, 'consulRegistry');
  const onError = functionOption('consulRegistry', 'onError', options.onError, (error: Error) => process.emitWarning(error));
  const report = (error: unknown) => {
    try {
      onError(asError(error));
    } catch {
      // A throwing error handler must not take heartbeats or shutdown down with it.
    }
  };
  /** Registered ids and their heartbeat timers. */
  const registered = new Map<string, NodeJS.Timeout | undefined>();

  const pass = async (id: string) => {
    const checkId = `service:${id}`;
    const path = `/v1/agent/check/pass/${encodeURIComponent(checkId)}`;
    const answer = await client.call('PUT', path, {}, (common) => client.consul.agent.check.pass({ id: checkId, ...common }));
    if (answer.status !== 200) throw client.statusError('PUT', path, answer);
  };

  const stopHeartbeat = (id: string) => {
    clearInterval(registered.get(id));
    registered.delete(id);
    if (registered.size === 0) client.close();
  };

  async function deregisterOne(id: string): Promise<void> {
    // Stopped first, so a heartbeat cannot bring a TTL check back after the instance is gone.
    clearInterval(registered.get(id));
    const path = `/v1/agent/service/deregister/${encodeURIComponent(id)}`;
    try {
      const answer: ConsulAnswer = await client.call('PUT', path, {}, (common) => client.consul.agent.service.deregister({ id, ...common }));
      // 404: already gone (deregistered elsewhere, or reaped after being critical too long).
      if (answer.status !== 200 && answer.status !== 404) throw client.statusError('PUT', path, answer);
    } finally {
      stopHeartbeat(id);
    }
  }

  async function register(registration: ConsulRegistration): Promise<RegisteredInstance> {
    const prepared = prepare(registration);
    const { id, name, body, heartbeatMs } = prepared;
    const known = registered.has(id);
    if (!known) registered.set(id, undefined);
    try {
      const answer = await client.registerService(body);
      if (answer.status !== 200) throw client.statusError('PUT', '/v1/agent/service/register', answer);
      let timer: NodeJS.Timeout | undefined;
      if (heartbeatMs !== undefined) {
        await pass(id);
        timer = setInterval(() => {
          pass(id).catch((error) => report(new ConsulError(`consulRegistry: TTL heartbeat for "${id}" failed: ${(error as Error).message}`)));
        }, heartbeatMs);
        // The heartbeat alone must not keep a process alive whose server has stopped.
        timer.unref();
      }
      // The previous registration's heartbeat runs until this one is in place.
      clearInterval(registered.get(id));
      if (registered.has(id)) registered.set(id, timer);
      else clearInterval(timer); // deregistered meanwhile
    } catch (error) {
      if (!known) stopHeartbeat(id);
      throw error;
    }
    return { id, name, deregister: () => deregisterOne(id) };
  }

  async function deregister(id?: string): Promise<void> {
    if (id !== undefined) return deregisterOne(requiredString('consulRegistry.deregister', 'id', id));
    const results = await Promise.allSettled([...registered.keys()].map(deregisterOne));
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => (r.reason as Error).message);
    if (failures.length > 0) throw new ConsulError(`consulRegistry: ${failures.length} deregistration(s) failed: ${failures.join('; ')}`);
  }

  function deregisterOnShutdown(server: ShutdownableServer, shutdown: ShutdownOptions = {}): () => void {
    return deregisterOnSignals('consulRegistry.deregisterOnShutdown', server, shutdown, () => deregister(), report);
  }

  return { register, deregister, deregisterOnShutdown };
}
