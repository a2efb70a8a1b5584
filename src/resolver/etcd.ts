import type { IWatchResponse, Watcher } from 'etcd3';
import { backoffOption } from '../core/backoff';
import { systemClock } from '../core/clock';
import { booleanOption, functionOption } from '../core/options';
import { abortableSleep } from '../core/sleep';
import { excerpt } from '../core/text';
import { etcdConnection } from '../discovery/etcd-connection';
import { EtcdError, type EtcdConnectionOptions } from '../discovery/etcd-options';
import { etcdLayout, type EtcdKeyFormat } from '../discovery/etcd-format';
import { failedWatch, startWatchLoop } from './watch-loop';
import { registerResolverScheme } from './target';
import type { Instance, Resolver, ResolverListener } from './types';

/** First delay after a failed read of a service's keys; doubles per consecutive failure. */
export const DEFAULT_ETCD_BACKOFF_INITIAL_MS = 250;
/** Cap on the error backoff: a restarted etcd is read again within this. */
export const DEFAULT_ETCD_BACKOFF_MAX_MS = 5_000;
/** A watch being cancelled waits this long for etcd's acknowledgement before the client is closed anyway. */
const CANCEL_GRACE_MS = 1_000;

export interface EtcdResolverOptions extends EtcdConnectionOptions {
  /** The key layout to read: the library's own (default), grpc-go's naming endpoints, or Kitex's registry-etcd. */
  format?: EtcdKeyFormat;
  /** Text before `<name>/` in the keys, replacing the format's default ("/services/", "", "kitex/registry-etcd/"). */
  prefix?: string;
  /**
   * Read the full list from any member (default true) rather than through the leader: a list a
   * few milliseconds old is fine for discovery, and a cluster electing a new leader still answers.
   * The watch that follows starts at the read's revision, so nothing after it is missed.
   */
  serializable?: boolean;
  /** Error backoff for the full read: doubles from `initialMs` up to `maxMs`, jittered. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Source of randomness for backoff jitter, in [0, 1). */
  random?: () => number;
}

/**
 * Watches services registered in etcd: one range read of the service's prefix for the full list,
 * then a watch from the next revision, so no change between the two is lost. The watch resumes
 * after a disconnect from the last revision it saw; when that revision was compacted, or etcd
 * came back as a different store (restored or replaced), it reads the full list again.
 *
 * Errors, values that cannot be read, and an empty prefix go to listener.onError; the last list
 * delivered stays the current one.
 */
export function etcdResolver(options: EtcdResolverOptions = {}): Resolver {
  const where = 'etcdResolver';
  const connection = etcdConnection(options, where);
  const layout = etcdLayout(options.format, options.prefix, where);
  const serializable = booleanOption(where, 'serializable', options.serializable, true);
  const backoff = backoffOption(where, options.backoff, { initialMs: DEFAULT_ETCD_BACKOFF_INITIAL_MS, maxMs: DEFAULT_ETCD_BACKOFF_MAX_MS });
  const random = functionOption(where, 'random', options.random, Math.random);
  const now = functionOption(where, 'now', options.now, systemClock);
  let active = 0;

  function watch(service: string, listener: ResolverListener): () => void {
    if (typeof service !== 'string' || service.length === 0 || /[\u0000-\u001f]/.test(service)) {
      return failedWatch(listener, new TypeError(`${where}: service name must be a non-empty single-line string, got ${excerpt(service)}`));
    }
    const prefix = layout.servicePrefix(service);
    const name = `${excerpt(service)} (etcd ${connection.origin}, keys ${excerpt(prefix)})`;
    active++;

    const instances = new Map<string, Instance>();
    const problems = new Map<string, string>();
    let revision = 0;
    let clusterId: string | undefined;
    let watcher: Watcher | undefined;

    const apply = (key: string, value: Buffer | undefined) => {
      instances.delete(key);
      problems.delete(key);
      if (value === undefined) return;
      const decoded = layout.decode(service, key, value);
      if (decoded instanceof Error) problems.set(key, decoded.message);
      else if (decoded) instances.set(key, decoded);
    };

    const snapshot = () => {
      const problemText = [...problems.values()].sort().join('; ');
      return {
        instances: [...instances.values()],
        problem: problemText ? new EtcdError(`${where}: skipped unusable instances of ${name}: ${problemText}`) : undefined,
      };
    };

    const stopWatcher = () => {
      const current = watcher;
      watcher = undefined;
      if (!current) return Promise.resolve();
      const grace = new AbortController();
      return Promise.race([current.cancel().catch(() => undefined), abortableSleep(CANCEL_GRACE_MS, grace.signal)]).finally(() => grace.abort());
    };

    /** Reads the full list, then watches from the next revision; the loop reads again when the watch cannot go on. */
    const read = async (signal: AbortSignal) => {
      await stopWatcher();
      let response;
      try {
        response = await connection.client().getAll().prefix(prefix).serializable(serializable).exec();
      } catch (error) {
        throw connection.fail(`reading ${name}`, error);
      }
      if (!signal.aborted) {
        instances.clear();
        problems.clear();
        for (const kv of response.kvs) apply(kv.key.toString('utf8'), kv.value);
        revision = Number(response.header.revision);
        clusterId = response.header.cluster_id;
        startWatch();
      }
      return { ...snapshot(), nextMs: Infinity };
    };

    const emptyError = () => new EtcdError(`${where}: no instances of ${name}`);
    const loop = startWatchLoop(listener, { backoff, random, now, emptyError }, read);
    const { report } = loop;

    const startWatch = () => {
      const current = connection.client().watch().prefix(prefix).startRevision(String(revision + 1)).watcher();
      watcher = current;
      let lost = false;
      current.on('connected', (response: IWatchResponse) => {
        if (watcher !== current) return;
        const header = response.header;
        // After a reconnect: a store whose revision is behind ours, or another cluster, is etcd
        // restored from a backup or replaced. Its revisions are not ours; only a full read is right.
        // (On the first connect a member a little behind the one that answered the read is just
        // a follower catching up: the watch waits for it.)
        if (header.cluster_id !== clusterId || (lost && Number(header.revision) < revision)) {
          report(new EtcdError(`${where}: etcd at ${connection.origin} came back at revision ${header.revision}, behind ${revision}; reading ${name} again`));
          loop.refresh();
          return;
        }
        lost = false;
      });
      current.on('data', (response: IWatchResponse) => {
        if (watcher !== current) return;
        for (const event of response.events) {
          apply(event.kv.key.toString('utf8'), String(event.type).toUpperCase() === 'DELETE' ? undefined : event.kv.value);
        }
        revision = Math.max(revision, Number(response.header.revision));
        loop.publish(snapshot());
      });
      current.on('disconnected', (error: Error) => {
        if (watcher !== current || lost) return;
        lost = true;
        report(connection.fail(`watch of ${name} lost, resuming after revision ${revision}`, error));
      });
      // etcd cancelled the watch: its revision was compacted away, or permission was withdrawn.
      current.on('error', (error: Error) => {
        if (watcher !== current) return;
        report(connection.fail(`watch of ${name} cancelled; reading it again`, error));
        watcher = undefined;
        loop.refresh();
      });
    };

    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      loop.stop();
      void stopWatcher().finally(() => {
        if (--active === 0) connection.close();
      });
    };
  }

  return { watch };
}

const TARGET_PARAMS = new Set(['format', 'prefix', 'tls', 'serializable']);

/**
 * `etcd:///service` or `etcd://host:2379,host2:2379/service?format=grpc-go&prefix=…&tls=true`
 * (an empty authority means 127.0.0.1:2379). Credentials are never taken from a target: pass
 * `auth` (and a private CA) to etcdResolver and give it as `resolver`.
 */
registerResolverScheme('etcd', (target) => {
  // Checked before anything echoes the target: targets end up in logs and errors.
  if (target.authority.includes('@') || [...target.query.keys()].some((key) => /pass|token|user|auth/i.test(key))) {
    throw new TypeError(
      'etcd target must not carry credentials ("user@" or a password parameter): targets end up in logs and errors. ' +
        'Pass them as etcdResolver({ auth: { username, password } }) and give that as the resolver.',
    );
  }
  const { text, query } = target;
  for (const key of query.keys()) {
    if (!TARGET_PARAMS.has(key)) throw new TypeError(`target ${excerpt(text)}: unknown parameter ${excerpt(key)} (known: ${[...TARGET_PARAMS].join(', ')})`);
    if (query.getAll(key).length > 1) throw new TypeError(`target ${excerpt(text)}: parameter ${excerpt(key)} given more than once`);
  }
  const service = target.path;
  if (!service) throw new TypeError(`target ${excerpt(text)} must name a service: "etcd://host:2379/service-name"`);
  const flag = (name: string): boolean | undefined => {
    const value = query.get(name);
    if (value === null) return undefined;
    if (/^(1|true|yes)$/i.test(value)) return true;
    if (/^(0|false|no)$/i.test(value)) return false;
    throw new TypeError(`target ${excerpt(text)}: ${name}=${excerpt(value)} is not a boolean (true/false)`);
  };
  const resolver = etcdResolver({
    hosts: target.authority || undefined,
    format: (query.get('format') ?? undefined) as EtcdKeyFormat | undefined,
    prefix: query.get('prefix') ?? undefined,
    tls: flag('tls'),
    serializable: flag('serializable'),
  });
  return { resolver, service };
});
