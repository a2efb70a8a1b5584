import type { Lease } from 'etcd3';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { backoffDelay } from '../core/backoff';
import { durationOption, functionOption, integerOption, numberOption, requiredString } from '../core/options';
import { abortableSleep } from '../core/sleep';
import { excerpt } from '../core/text';
import { formatAddress } from '../discovery/address';
import { etcdConnection } from '../discovery/etcd-connection';
import { EtcdError, type EtcdConnectionOptions } from '../discovery/etcd-options';
import { etcdLayout, type EtcdKeyFormat } from '../discovery/etcd-format';
import { asError } from '../discovery/errors';
import { deregisterOnSignals, type ShutdownableServer, type ShutdownOptions } from './shutdown';

/**
 * Lease TTL: a process that dies without deregistering leaves etcd this long after its last
 * renewal. 30 s, renewed every 10 s, is what Go services and Kitex use; it rides out an etcd
 * leader election or a short partition without the instance flickering out.
 */
export const DEFAULT_ETCD_LEASE_TTL_MS = 30_000;
/** etcd leases are granted in whole seconds, at least one. */
const MIN_LEASE_TTL_MS = 1_000;
/** First delay before registering again after a lost lease failed; doubles per failure. */
const REREGISTER_BACKOFF_INITIAL_MS = 250;
/** Cap on that delay: an etcd that is back gets the instance again within this. */
const REREGISTER_BACKOFF_MAX_MS = 5_000;

export interface EtcdRegistryOptions extends EtcdConnectionOptions {
  /** The key layout to write: the library's own (default), grpc-go's naming endpoints, or Kitex's registry-etcd. */
  format?: EtcdKeyFormat;
  /** Text before `<name>/` in the keys, replacing the format's default. */
  prefix?: string;
  /** Lease TTL in ms (rounded up to whole seconds); the library renews it every third of that. */
  leaseTtlMs?: number;
  /** Failures that happen in the background (lost leases, re-registration, shutdown). Default: a process warning. */
  onError?: (error: Error) => void;
  /** Source of randomness for backoff jitter, in [0, 1). */
  random?: () => number;
}

export interface EtcdRegistration {
  /** The service name resolvers watch. */
  name: string;
  /** Host (IP or name, no port) clients connect to. Default: this machine's first non-internal IPv4 address. */
  address?: string;
  port: number;
  /** Relative share of calls, a number > 0 (default 1). */
  weight?: number;
  /** Tags (become keys with an empty value in resolved instances). */
  tags?: readonly string[];
  /** Key/value metadata (becomes tags in resolved instances). */
  meta?: Readonly<Record<string, string>>;
}

export interface EtcdRegisteredInstance {
  /** The etcd key holding the instance. */
  readonly key: string;
  readonly name: string;
  /** "host:port" as clients dial it. */
  readonly address: string;
  /** Revokes this instance's lease, which removes its key at once. */
  deregister(): Promise<void>;
}

export interface EtcdRegistry {
  /**
   * Writes the instance's key under a lease of its own and keeps the lease alive. When the lease
   * is lost (etcd restarted empty, a partition longer than the TTL) the instance is registered
   * again by itself. Registering the same name and address again replaces the value in place.
   */
  register(registration: EtcdRegistration): Promise<EtcdRegisteredInstance>;
  /** Deregisters one instance by key, or, without a key, every instance this registry registered. */
  deregister(key?: string): Promise<void>;
  /**
   * On one of `signals`: deregister everything, wait `drainMs` while the server still answers
   * calls, then shut the server down (forced after `shutdownTimeoutMs`). Returns a function that
   * removes the signal listeners.
   */
  deregisterOnShutdown(server: ShutdownableServer, options?: ShutdownOptions): () => void;
}

interface Entry {
  readonly key: string;
  value: string;
  lease: Lease | undefined;
  stopped: boolean;
  /** Aborted on deregistration, ending a re-registration loop. */
  readonly controller: AbortController;
}

function localAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) if (info.family === 'IPv4' && !info.internal) return info.address;
  }
  return undefined;
}

/** Registers gRPC servers in etcd under leases it keeps alive, re-registers after a lost lease, deregisters on shutdown. */
export function etcdRegistry(options: EtcdRegistryOptions = {}): EtcdRegistry {
  const where = 'etcdRegistry';
  const connection = etcdConnection(options, where);
  const layout = etcdLayout(options.format, options.prefix, where);
  const ttlMs = durationOption(where, 'leaseTtlMs', options.leaseTtlMs, DEFAULT_ETCD_LEASE_TTL_MS, { min: MIN_LEASE_TTL_MS });
  const ttlSeconds = Math.ceil(ttlMs / 1_000);
  const onError = functionOption(where, 'onError', options.onError, (error: Error) => process.emitWarning(error));
  const random = functionOption(where, 'random', options.random, Math.random);
  const report = (error: unknown) => {
    try {
      onError(asError(error));
    } catch {
      // A throwing error handler must not take re-registration or shutdown down with it.
    }
  };
  const registered = new Map<string, Entry>();

  /** A fresh lease, and the key written under it. */
  async function establish(entry: Entry): Promise<void> {
    const lease = connection.client().lease(ttlSeconds);
    entry.lease = lease;
    // Before the key is written a failure is the caller's to see (register rejects, or the
    // re-registration loop retries); only a lease that held the key is re-registered from here.
    let holding = false;
    lease.on('lost', (error: Error) => {
      if (!holding || entry.stopped || entry.lease !== lease) return;
      entry.lease = undefined;
      report(connection.fail(`lease of ${excerpt(entry.key)} lost; registering it again`, error));
      void reRegister(entry);
    });
    try {
      await lease.put(entry.key).value(entry.value).exec();
      holding = true;
    } catch (error) {
      if (entry.lease === lease) entry.lease = undefined;
      // Revoked rather than left to expire, so no lease outlives a failed registration.
      lease.revoke().catch(() => undefined);
      throw error;
    }
  }

  async function reRegister(entry: Entry): Promise<void> {
    for (let failures = 1; !entry.stopped; failures++) {
      try {
        await establish(entry);
        return;
      } catch (error) {
        if (entry.stopped) return;
        report(connection.fail(`registering ${excerpt(entry.key)} again`, error));
        await abortableSleep(backoffDelay(failures, { initialMs: REREGISTER_BACKOFF_INITIAL_MS, maxMs: REREGISTER_BACKOFF_MAX_MS }, random), entry.controller.signal);
      }
    }
  }

  function prepare(registration: EtcdRegistration) {
    const at = `${where}.register`;
    if (registration === null || typeof registration !== 'object') throw new TypeError(`${at}: expects an object with name and port`);
    const name = requiredString(at, 'name', registration.name, true);
    const port = integerOption(at, 'port', registration.port ?? null, 0, { min: 1, max: 65535 });
    let host = registration.address === undefined ? localAddress() : requiredString(at, 'address', registration.address, true).trim();
    if (host === undefined) throw new TypeError(`${at}: address is required: this machine has no non-internal IPv4 address to default to`);
    if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
    if ((host.includes(':') && isIP(host) !== 6) || /[\s/]/.test(host)) {
      throw new TypeError(`${at}: address must be an IP address or host name without a port (the port goes in "port"), got ${excerpt(registration.address)}`);
    }
    const weight = numberOption(at, 'weight', registration.weight, 1, { above: 0 });
    const tags = registration.tags ?? [];
    if (!Array.isArray(tags)) throw new TypeError(`${at}: tags must be an array of strings`);
    tags.forEach((tag, i) => requiredString(at, `tags[${i}]`, tag, true));
    const meta = registration.meta ?? {};
    if (meta === null || typeof meta !== 'object' || Array.isArray(meta) || Object.values(meta).some((v) => typeof v !== 'string')) {
      throw new TypeError(`${at}: meta must be an object of string values`);
    }
    const address = formatAddress(host, port);
    const key = layout.key(name, address);
    const value = layout.encode({ address, weight, tags: [...tags], meta: { ...meta } });
    return { name, address, key, value };
  }

  async function register(registration: EtcdRegistration): Promise<EtcdRegisteredInstance> {
    const { name, address, key, value } = prepare(registration);
    const instance: EtcdRegisteredInstance = { key, name, address, deregister: () => deregisterOne(key) };
    const existing = registered.get(key);
    if (existing?.lease) {
      // Same instance again (a new weight, new tags): written in place under its live lease, so
      // watchers see one update and never a gap.
      existing.value = value;
      try {
        await existing.lease.put(key).value(value).exec();
      } catch (error) {
        throw connection.fail(`updating ${excerpt(key)}`, error);
      }
      return instance;
    }
    if (existing) {
      // Its lease was lost and is being re-established: the loop writes the new value.
      existing.value = value;
      return instance;
    }
    const entry: Entry = { key, value, lease: undefined, stopped: false, controller: new AbortController() };
    registered.set(key, entry);
    try {
      await establish(entry);
    } catch (error) {
      entry.stopped = true;
      registered.delete(key);
      if (registered.size === 0) connection.close();
      throw connection.fail(`registering ${excerpt(key)}`, error);
    }
    return instance;
  }

  async function deregisterOne(key: string): Promise<void> {
    const entry = registered.get(key);
    if (!entry) return;
    entry.stopped = true;
    entry.controller.abort();
    registered.delete(key);
    const lease = entry.lease;
    entry.lease = undefined;
    try {
      // Revoking deletes every key attached to the lease in one step.
      if (lease) await lease.revoke();
    } catch (error) {
      throw connection.fail(`deregistering ${excerpt(key)} (its key stays until the lease expires)`, error);
    } finally {
      if (registered.size === 0) connection.close();
    }
  }

  async function deregister(key?: string): Promise<void> {
    if (key !== undefined) return deregisterOne(requiredString(`${where}.deregister`, 'key', key, true));
    const results = await Promise.allSettled([...registered.keys()].map(deregisterOne));
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => (r.reason as Error).message);
    if (failures.length > 0) throw new EtcdError(`${where}: ${failures.length} deregistration(s) failed: ${failures.join('; ')}`);
  }

  function deregisterOnShutdown(server: ShutdownableServer, shutdown: ShutdownOptions = {}): () => void {
    return deregisterOnSignals(`${where}.deregisterOnShutdown`, server, shutdown, () => deregister(), report);
  }

  return { register, deregister, deregisterOnShutdown };
}
