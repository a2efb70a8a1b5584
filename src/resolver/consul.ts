import { backoffOption } from '../core/backoff';
import { systemClock, type Clock } from '../core/clock';
import { booleanOption, durationOption, functionOption, requiredString, stringOption } from '../core/options';
import { excerpt } from '../core/text';
import { ConsulAccess, ConsulError, type ConsulConnectionOptions } from '../discovery/consul-access';
import { consulHealthToInstances } from './consul-health';
import { registerResolverScheme } from './target';
import type { Resolver, ResolverListener } from './types';
import { asError } from '../discovery/errors';
import { failedWatch, startWatchLoop } from './watch-loop';

export { ConsulError, isConsulError, type ConsulConnectionOptions, type ConsulTlsOptions } from '../discovery/consul-access';
export { consulHealthToInstances } from './consul-health';

/**
 * How long one blocking query may wait for a change. Shorter than Consul's 5 minute default so a
 * connection silently dropped by a middlebox is noticed within a minute.
 */
const DEFAULT_CONSUL_WAIT_MS = 55_000;
/** Consul caps a blocking query's wait at 10 minutes; asking for more is a mistake. */
const MAX_CONSUL_WAIT_MS = 600_000;
/** Added to `wait` (plus the wait/16 jitter Consul adds) before a blocking query counts as lost. */
const BLOCKING_TIMEOUT_MARGIN_MS = 5_000;
/** First delay after a failed request; doubles per consecutive failure. */
const DEFAULT_CONSUL_BACKOFF_INITIAL_MS = 250;
/** Cap on the error backoff: a restarted agent is found again within this. */
const DEFAULT_CONSUL_BACKOFF_MAX_MS = 5_000;
/**
 * Minimum time between the starts of two queries when the index stood still (or went back):
 * such answers come back at once and would otherwise spin.
 */
const DEFAULT_CONSUL_MIN_QUIET_INTERVAL_MS = 1_000;
/**
 * Queries that follow an answer with a new index start at least `minQuietIntervalMs / 10` (100 ms
 * by default) after the previous one: a change is still seen within that, and a server whose
 * index moves on every answer, with or without news, draws at most ten queries per
 * `minQuietIntervalMs` instead of as many as it can answer. consul-template spaces its blocking
 * queries by 100 ms for the same reason.
 */
const FOLLOW_UP_SPACING_DIVISOR = 10;

export interface ConsulResolverOptions extends ConsulConnectionOptions {
  /** Only instances carrying every one of these tags. */
  tags?: readonly string[];
  /** Datacenter to ask; the agent's own by default. */
  dc?: string;
  /** Sort by round-trip time from this node ("_agent" for the local agent's). */
  near?: string;
  /** A Consul filter expression, e.g. `Service.Meta.zone == "a"`. */
  filter?: string;
  /**
   * Let any server answer, not only the leader (default true): a list a few milliseconds old is
   * fine for discovery, and a cluster that lost its leader still answers.
   */
  stale?: boolean;
  /**
   * Only instances whose checks all pass (default true). When false, instances with a warning
   * check are admitted too, with their `Weights.Warning`; critical ones never are.
   */
  onlyPassing?: boolean;
  /** How long each blocking query waits for a change (at most Consul's own limit, 10 minutes). Default 55 s. */
  waitMs?: number;
  /** Error backoff: doubles from `initialMs` (default 250 ms) up to `maxMs` (default 5 s), each delay jittered between half and all of it. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Minimum spacing of queries whose answer brought no new index; a tenth of it spaces the others. Default 1 s. */
  minQuietIntervalMs?: number;
  /** Source of randomness for backoff jitter, in [0, 1). */
  random?: () => number;
  /** Clock for query spacing, in epoch ms. Default the system clock. */
  now?: Clock;
}

type HealthServiceOptions = Exclude<Parameters<ConsulAccess['consul']['health']['service']>[0], string>;

/**
 * Watches services in Consul's health catalog with blocking queries: a change reaches the
 * listener as soon as Consul knows it, with one open request per watch in between.
 *
 * Each instance's weight is its `Weights.Passing` (`Weights.Warning` for admitted warning
 * instances); its address is the service address, else the node's. Consul tags become keys with
 * an empty value (tag "v1" → tags["v1"] = ""), service meta becomes key/value pairs, meta winning
 * when a key is both. Errors, and an answer with no instances, go to listener.onError; the last
 * list delivered stays the current one. The watch retries by itself, with backoff.
 */
export function consulResolver(options: ConsulResolverOptions = {}): Resolver {
  const where = 'consulResolver';
  const access = new ConsulAccess(options, where);
  const tags = options.tags;
  if (tags !== undefined) {
    if (!Array.isArray(tags)) throw new TypeError(`${where}: tags must be an array of strings`);
    tags.forEach((tag, i) => requiredString(where, `tags[${i}]`, tag));
  }
  const dc = stringOption(where, 'dc', options.dc, undefined);
  const near = stringOption(where, 'near', options.near, undefined);
  const filter = stringOption(where, 'filter', options.filter, undefined);
  const stale = booleanOption(where, 'stale', options.stale, true);
  const onlyPassing = booleanOption(where, 'onlyPassing', options.onlyPassing, true);
  const waitMs = durationOption(where, 'waitMs', options.waitMs, DEFAULT_CONSUL_WAIT_MS, { min: 1, max: MAX_CONSUL_WAIT_MS });
  const backoff = backoffOption(where, options.backoff, { initialMs: DEFAULT_CONSUL_BACKOFF_INITIAL_MS, maxMs: DEFAULT_CONSUL_BACKOFF_MAX_MS });
  const minQuietIntervalMs = durationOption(where, 'minQuietIntervalMs', options.minQuietIntervalMs, DEFAULT_CONSUL_MIN_QUIET_INTERVAL_MS, { min: 1 });
  const random = functionOption(where, 'random', options.random, Math.random);
  const now = functionOption(where, 'now', options.now, systemClock);

  // Only what is set: the package sends a present key even when its value is undefined.
  const baseQuery: Record<string, unknown> = { passing: onlyPassing, stale };
  if (tags && tags.length > 0) baseQuery.tag = [...tags];
  for (const [key, value] of Object.entries({ dc, near, filter })) if (value !== undefined) baseQuery[key] = value;
  const blockingTimeoutMs = waitMs + waitMs / 16 + BLOCKING_TIMEOUT_MARGIN_MS;
  let active = 0;

  function watch(service: string, listener: ResolverListener): () => void {
    if (typeof service !== 'string' || service.trim().length === 0 || /[\u0000-\u001f]/.test(service)) {
      return failedWatch(listener, new TypeError(`${where}: service name must be a non-empty string, got ${excerpt(String(service))}`));
    }
    const path = `/v1/health/service/${encodeURIComponent(service)}`;
    const name = `${excerpt(service)} (${access.origin}${dc ? `, dc ${excerpt(dc)}` : ''})`;
    active++;

    /** One read of the health list: the instances, their problems, and Consul's index. */
    const query = async (index: number, signal: AbortSignal) => {
      const blocking = index > 0;
      const answer = await access.call('GET', path, { signal, timeoutMs: blocking ? blockingTimeoutMs : undefined }, (common) =>
        access.consul.health.service({
          service,
          ...baseQuery,
          ...(blocking ? { index: String(index), wait: `${waitMs}ms` } : {}),
          ...common,
          // The package's types leave out options its code passes on (cancel context, timeout, tag lists).
        } as unknown as HealthServiceOptions),
      );
      if (answer.status !== 200) throw access.statusError('GET', path, answer);
      const header = answer.headers['x-consul-index'];
      const next = typeof header === 'string' && /^\d+$/.test(header) ? Number(header) : NaN;
      if (!Number.isSafeInteger(next)) throw new ConsulError(`consul GET ${path} at ${access.origin}: answer without a valid X-Consul-Index header`);
      try {
        return { ...consulHealthToInstances(answer.body, onlyPassing), index: next };
      } catch (error) {
        throw new ConsulError(`consul GET ${path} at ${access.origin}: ${asError(error).message}`);
      }
    };

    // The loop is ours rather than the package's Watch: that one emits 'error' on an emitter
    // nobody may be listening to (which ends the process), and cannot be spaced or bounded here.
    let index = 0;
    const read = async (signal: AbortSignal) => {
      const started = now();
      // The first read (and the one after an error or a reset) does not block: it answers at
      // once by design and is followed at once.
      const blocking = index > 0;
      const previous = index;
      // Until an answer says otherwise: after a failure the agent may have restarted with a
      // smaller index, and blocking on the old one would hide every change until Consul's index
      // caught up with it.
      index = 0;
      const answer = await query(previous, signal);
      const advanced = answer.index > previous;
      // Consul's rules for blocking queries: an index that goes backwards (a restored or replaced
      // server) restarts from 0; an index below 1 would make every query return at once, so it
      // is raised to 1.
      index = answer.index < previous ? 0 : Math.max(answer.index, 1);
      const problems = answer.problems.join('; ');
      const spacing = !advanced ? minQuietIntervalMs : blocking ? minQuietIntervalMs / FOLLOW_UP_SPACING_DIVISOR : 0;
      return {
        instances: answer.instances,
        problem: problems ? new ConsulError(`consul: skipped unusable instances of ${name}: ${access.redact(problems)}`) : undefined,
        nextMs: spacing - (now() - started),
      };
    };
    const emptyError = () => new ConsulError(`consul: no ${onlyPassing ? 'passing' : 'healthy'} instances of ${name}`);
    const loop = startWatchLoop(listener, { backoff, random, now, emptyError }, read);
    void loop.done.finally(() => {
      if (--active === 0) access.close();
    });
    return () => loop.stop();
  }

  return { watch };
}

const TARGET_PARAMS = new Set(['tag', 'dc', 'near', 'filter', 'stale', 'passing', 'tls']);
/** Parameter names that would carry a credential, compared lowercased and percent-decoded. */
const TOKEN_PARAM = /token|secret|password|^auth|^acl$/;

function decodedKey(key: string): string {
  try {
    return decodeURIComponent(key).toLowerCase();
  } catch {
    return key.toLowerCase();
  }
}

function booleanParam(value: string, name: string, text: string): boolean {
  if (/^(1|true|yes)$/i.test(value)) return true;
  if (/^(0|false|no)$/i.test(value)) return false;
  throw new TypeError(`target ${text}: ${name}=${excerpt(value)} is not a boolean (true/false)`);
}

/**
 * `consul://host:port/service?tag=v1&tag=v2&dc=dc1&near=_agent&filter=…&stale=false&passing=false&tls=true`
 * (every parameter optional; an empty authority means CONSUL_HTTP_ADDR or 127.0.0.1:8500). The
 * ACL token is never taken from a target: it comes from CONSUL_HTTP_TOKEN.
 */
registerResolverScheme('consul', (target) => {
  // Checked before anything quotes the target: a target carrying a token, in any spelling, must
  // not be repeated in an error message, since messages end up in logs.
  if ([...target.query.keys()].some((key) => TOKEN_PARAM.test(decodedKey(key))) || target.authority.includes('@')) {
    throw new TypeError(
      'consul target must not carry an ACL token ("token=" or "user@" in the target): targets end up in logs and errors. ' +
        'Pass it as consulResolver({ token }) or set the CONSUL_HTTP_TOKEN environment variable.',
    );
  }
  const { query } = target;
  const text = excerpt(target.text);
  for (const key of query.keys()) {
    if (!TARGET_PARAMS.has(key)) {
      throw new TypeError(`target ${text}: unknown parameter ${excerpt(key)} (known: ${[...TARGET_PARAMS].join(', ')})`);
    }
  }
  const service = target.path;
  if (!service || service.includes('/')) {
    throw new TypeError(`target ${text} must name one service: "consul://host:port/service-name?tag=…&dc=…"`);
  }
  const single = (name: string) => {
    const values = query.getAll(name);
    if (values.length > 1) throw new TypeError(`target ${text}: parameter "${name}" given ${values.length} times`);
    if (values.length === 1 && values[0].length === 0) throw new TypeError(`target ${text}: parameter "${name}" is empty`);
    return values[0];
  };
  const tags = query.getAll('tag');
  if (tags.some((tag) => tag.length === 0)) throw new TypeError(`target ${text}: an empty "tag=" parameter`);
  const stale = single('stale');
  const passing = single('passing');
  const tls = single('tls');
  const resolver = consulResolver({
    address: target.authority || undefined,
    tags: tags.length > 0 ? tags : undefined,
    dc: single('dc'),
    near: single('near'),
    filter: single('filter'),
    stale: stale === undefined ? undefined : booleanParam(stale, 'stale', text),
    onlyPassing: passing === undefined ? undefined : booleanParam(passing, 'passing', text),
    tls: tls === undefined ? undefined : booleanParam(tls, 'tls', text),
  });
  return { resolver, service };
});
