import { getServers } from 'node:dns';
import { isIP } from 'node:net';
import { backoffOption } from '../core/backoff';
import { systemClock, type Clock } from '../core/clock';
import { booleanOption, checkOptionsObject, durationOption, functionOption, integerOption, oneOfOption } from '../core/options';
import { describeValue, excerpt } from '../core/text';
import { formatAddress, parseAddress, type HostPort } from '../discovery/address';
import { DnsError } from './dns-error';
import { resolveHost, resolveSrv, type DnsFamily } from './dns-records';
import type { QueryOptions } from './dns-transport';
import { registerResolverScheme } from './target';
import type { Instance, Resolver, ResolverListener } from './types';
import { watchReporter } from './listener';
import { failedWatch, startWatchLoop } from './watch-loop';

export { DnsError, isDnsError, type DnsErrorCode } from './dns-error';
export type { DnsFamily } from './dns-records';

/** TTL 0 (Consul's default) must not turn into a query loop. */
const DEFAULT_DNS_MIN_TTL_MS = 1_000;
/** Even a long-lived record is re-checked this often, so a moved service is found without a failure. */
const DEFAULT_DNS_MAX_TTL_MS = 300_000;
/** resolveNow() runs at most this often: several endpoints failing together cause one query, not one each. */
const DEFAULT_DNS_MIN_RESOLVE_INTERVAL_MS = 5_000;
/** One query attempt; a local or nearby server answers in well under this. */
const DEFAULT_DNS_TIMEOUT_MS = 2_000;
/** Attempts per server before giving up (UDP loses packets). */
const DEFAULT_DNS_TRIES = 2;
/** First retry after a failed resolution; doubles per consecutive failure. */
const DEFAULT_DNS_BACKOFF_INITIAL_MS = 1_000;
/** Cap on the retry delay after failures, NXDOMAIN included. */
const DEFAULT_DNS_BACKOFF_MAX_MS = 30_000;
/** More rounds than this over the servers only lengthens a failure. */
const MAX_DNS_TRIES = 10;
const DNS_PORT = 53;

/** Checks a DNS name; returns the problem, or undefined when the name is fine. */
function nameProblem(name: string): string | undefined {
  const bare = name.replace(/\.$/, '');
  if (bare.length === 0) return 'is empty';
  if (bare.length > 253) return 'is longer than 253 characters';
  // eslint-disable-next-line no-control-regex
  if (!/^[\x21-\x7e]+$/.test(bare)) return 'has characters other than printable ASCII (use the punycode form)';
  for (const label of bare.split('.')) {
    if (label.length === 0) return 'has an empty label';
    if (label.length > 63) return `has a label longer than 63 characters ("${label.slice(0, 20)}…")`;
  }
  return undefined;
}

export interface DnsResolverOptions {
  /**
   * DNS servers to ask, "ip" or "ip:port" ("[v6]:port"); the system's (from /etc/resolv.conf) by
   * default. Names are asked as given: no search domains.
   */
  servers?: readonly string[];
  /** Resolve SRV records (`_service._proto.name`, or any name with this set). Names starting with "_" are SRV without it. */
  srv?: boolean;
  /** Which address records to ask for (default both). */
  family?: DnsFamily;
  /** Lower bound on the re-resolution period, whatever the TTL says. Default 1 s. */
  minTtlMs?: number;
  /** Upper bound on the re-resolution period (at most 2^31−1 ms). Default 5 minutes. */
  maxTtlMs?: number;
  /** Minimum spacing of resolutions asked for with resolveNow(). Default 5 s. */
  minResolveIntervalMs?: number;
  /** One query attempt's timeout. Default 2 s. */
  timeoutMs?: number;
  /** Rounds over the servers before a query fails (1 to 10). Default 2. */
  tries?: number;
  /** Retry after failures: doubles from `initialMs` (default 1 s) up to `maxMs` (default 30 s), each delay jittered between half and all of it. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Source of randomness for backoff jitter, in [0, 1). */
  random?: () => number;
  /** Clock for re-resolution spacing, in epoch ms. Default the system clock. */
  now?: Clock;
}

/** A DNS resolver, plus the hook that asks for a fresh resolution. */
export interface DnsResolver extends Resolver {
  /**
   * Re-resolves `service` (every watched name when omitted) now, or as soon as
   * `minResolveIntervalMs` since its last resolution has passed. Call it when endpoints fail:
   * the records may have changed before their TTL ran out.
   */
  resolveNow(service?: string): void;
}

/** Parses "ip", "ip:port" or "[v6]:port" as a DNS server. */
function parseServer(text: unknown, field: string): HostPort {
  if (typeof text !== 'string' || text.trim().length === 0) throw new TypeError(`${field} must be a DNS server "ip" or "ip:port", got ${describeValue(text)}`);
  const value = text.trim();
  if (isIP(value)) return { host: value, port: DNS_PORT };
  const withPort = /^(.*):(\d+)$/.exec(value);
  const host = (withPort ? withPort[1] : value).replace(/^\[(.*)\]$/, '$1');
  if (!isIP(host)) throw new TypeError(`${field} must be an IP address (a server's name would itself need resolving), got ${excerpt(host)}`);
  if (!withPort) return { host, port: DNS_PORT };
  const parsed = parseAddress(formatAddress(host, Number(withPort[2])));
  if (parsed instanceof Error) throw new TypeError(`${field}: ${parsed.message}`);
  return parsed;
}

interface WatchTarget {
  readonly srv: boolean;
  readonly name: string;
  readonly port: number;
  /** An IP literal or "localhost": no query needed. */
  readonly fixed?: Instance[];
}

/**
 * Finds instances through DNS: A/AAAA records with the port from the name ("host:port"), or SRV
 * records with their ports, priorities and weights. Re-resolves when the records' TTL runs out
 * (bounded by minTtlMs and maxTtlMs) and when asked with resolveNow(). NXDOMAIN and empty answers
 * are reported as errors, so the last good list stays in use.
 */
export function dnsResolver(options: DnsResolverOptions = {}): DnsResolver {
  const where = 'dnsResolver';
  checkOptionsObject(where, options);
  let servers: HostPort[] | undefined;
  if (options.servers !== undefined) {
    if (!Array.isArray(options.servers) || options.servers.length === 0) {
      throw new TypeError(`${where}: servers must be a non-empty array of "ip:port" strings`);
    }
    servers = options.servers.map((server, i) => parseServer(server, `${where}: servers[${i}]`));
  }
  const srvForAll = booleanOption(where, 'srv', options.srv, false);
  const family = oneOfOption<DnsFamily>(where, 'family', options.family, 'any', ['ipv4', 'ipv6', 'any']);
  const minTtlMs = durationOption(where, 'minTtlMs', options.minTtlMs, DEFAULT_DNS_MIN_TTL_MS, { min: 1 });
  const maxTtlMs = durationOption(where, 'maxTtlMs', options.maxTtlMs, Math.max(DEFAULT_DNS_MAX_TTL_MS, minTtlMs), { min: 1 });
  if (maxTtlMs < minTtlMs) throw new RangeError(`${where}: maxTtlMs (${maxTtlMs}) must be >= minTtlMs (${minTtlMs})`);
  const minResolveIntervalMs = durationOption(where, 'minResolveIntervalMs', options.minResolveIntervalMs, DEFAULT_DNS_MIN_RESOLVE_INTERVAL_MS);
  const timeoutMs = durationOption(where, 'timeoutMs', options.timeoutMs, DEFAULT_DNS_TIMEOUT_MS, { min: 1 });
  const tries = integerOption(where, 'tries', options.tries, DEFAULT_DNS_TRIES, { min: 1, max: MAX_DNS_TRIES });
  const backoff = backoffOption(where, options.backoff, { initialMs: DEFAULT_DNS_BACKOFF_INITIAL_MS, maxMs: DEFAULT_DNS_BACKOFF_MAX_MS });
  const random = functionOption(where, 'random', options.random, Math.random);
  const now = functionOption(where, 'now', options.now, systemClock);

  const systemServers = (): HostPort[] => {
    const found: HostPort[] = [];
    for (const text of getServers()) {
      try {
        found.push(parseServer(text, 'system DNS server'));
      } catch {
        // An entry Node reports but this resolver cannot use is skipped; the others still work.
      }
    }
    return found;
  };

  const parseWatchTarget = (service: string): WatchTarget | Error => {
    if (typeof service !== 'string' || service.trim().length === 0) return new TypeError(`${where}: name must be a non-empty string, got ${describeValue(service)}`);
    const text = service.trim();
    const srv = srvForAll || text.startsWith('_');
    if (srv) {
      const problem = nameProblem(text);
      if (problem) return new TypeError(`${where}: SRV name ${excerpt(text)} ${problem}`);
      if (/:\d+$/.test(text)) return new TypeError(`${where}: SRV name ${excerpt(text)} must not carry a port: SRV records give the ports`);
      return { srv, name: text, port: 0 };
    }
    const parsed = parseAddress(text);
    if (parsed instanceof Error) return new TypeError(`${where}: ${excerpt(text)} must be "host:port" (or an SRV name): ${parsed.message}`);
    if (isIP(parsed.host)) return { srv, name: parsed.host, port: parsed.port, fixed: [{ address: formatAddress(parsed.host, parsed.port) }] };
    const problem = nameProblem(parsed.host);
    if (problem) return new TypeError(`${where}: host name ${excerpt(parsed.host)} ${problem}`);
    if (/^localhost\.?$/i.test(parsed.host)) {
      // RFC 6761: localhost is loopback without asking anyone. IPv4 unless asked for IPv6, because
      // that is what servers bound to "localhost" or 0.0.0.0 accept.
      return { srv, name: parsed.host, port: parsed.port, fixed: [{ address: formatAddress(family === 'ipv6' ? '::1' : '127.0.0.1', parsed.port) }] };
    }
    return { srv, name: parsed.host, port: parsed.port };
  };

  /** The watches, by service text, so resolveNow(service) finds them. */
  const watches = new Map<string, Set<() => void>>();

  function watch(service: string, listener: ResolverListener): () => void {
    const parsed = parseWatchTarget(service);
    if (parsed instanceof Error) return failedWatch(listener, parsed);
    const target: WatchTarget = parsed;
    if (target.fixed) {
      const fixed = target.fixed;
      const controller = new AbortController();
      const { update } = watchReporter(listener, controller.signal);
      queueMicrotask(() => update(fixed.map((instance) => ({ ...instance }))));
      return () => controller.abort();
    }

    // When the last resolution ended (answer or failure): resolveNow() waits minResolveIntervalMs
    // from there, so queries are spaced by at least that much wherever their latency falls.
    let lastEndedAt = -Infinity;
    const emptyError = () => new DnsError(`${where}: no records for ${excerpt(target.name)}`, 'NODATA');
    const loop = startWatchLoop(listener, { backoff, random, now, emptyError }, async (signal) => {
      const queryOptions: QueryOptions = { servers: servers ?? systemServers(), timeoutMs, tries, signal };
      if (queryOptions.servers.length === 0) throw new DnsError(`${where}: no DNS servers configured on this system; pass options.servers`, 'NETWORK');
      try {
        const resolution = target.srv
          ? await resolveSrv(target.name, family, queryOptions)
          : await resolveHost(target.name, target.port, family, queryOptions);
        const ttlMs = Number.isFinite(resolution.ttl) ? resolution.ttl * 1000 : maxTtlMs;
        return { instances: resolution.instances, problem: resolution.partial, nextMs: Math.min(maxTtlMs, Math.max(minTtlMs, ttlMs)) };
      } finally {
        lastEndedAt = now();
      }
    });
    const resolveNow = () => loop.refresh(Math.max(now(), lastEndedAt + minResolveIntervalMs));

    const key = service;
    let set = watches.get(key);
    if (!set) watches.set(key, (set = new Set()));
    const triggers = set;
    triggers.add(resolveNow);
    return () => {
      if (loop.signal.aborted) return;
      loop.stop();
      triggers.delete(resolveNow);
      if (triggers.size === 0 && watches.get(key) === triggers) watches.delete(key);
    };
  }

  function resolveNow(service?: string): void {
    if (service !== undefined) {
      for (const trigger of watches.get(service) ?? []) trigger();
      return;
    }
    for (const set of watches.values()) for (const trigger of set) trigger();
  }

  return { watch, resolveNow };
}

const DNS_TARGET_PARAMS = new Set(['srv', 'family']);

/**
 * `dns:///host:port` (the system's DNS servers), `dns://10.0.0.2:53/host:port` (that server),
 * `dns:///_grpc._tcp.example.com` or `dns:///name?srv=true` (SRV records); `?family=ipv4|ipv6|any`.
 */
registerResolverScheme('dns', (target) => {
  const { text, query } = target;
  for (const key of query.keys()) {
    if (!DNS_TARGET_PARAMS.has(key)) throw new TypeError(`target ${excerpt(text)}: unknown parameter ${excerpt(key)} (known: ${[...DNS_TARGET_PARAMS].join(', ')})`);
  }
  if (!target.path) throw new TypeError(`target ${excerpt(text)} names no host; expected "dns:///host:port" or "dns://dns-server:port/host:port"`);
  const srvParam = query.get('srv');
  let srv: boolean | undefined;
  if (srvParam !== null) {
    if (/^(1|true|yes)$/i.test(srvParam)) srv = true;
    else if (/^(0|false|no)$/i.test(srvParam)) srv = false;
    else throw new TypeError(`target ${excerpt(text)}: srv=${excerpt(srvParam)} is not a boolean (true/false)`);
  }
  const family = query.get('family') ?? undefined;
  if (family !== undefined && family !== 'ipv4' && family !== 'ipv6' && family !== 'any') {
    throw new TypeError(`target ${excerpt(text)}: family=${excerpt(family)} must be ipv4, ipv6 or any`);
  }
  const resolver = dnsResolver({
    servers: target.authority ? [target.authority] : undefined,
    srv,
    family: family as DnsFamily | undefined,
  });
  // Checked here so a malformed name fails at construction rather than on the first resolution.
  const name = target.path;
  if (srv !== true && !name.startsWith('_')) {
    const parsed = parseAddress(name);
    if (parsed instanceof Error) throw new TypeError(`target ${excerpt(text)}: ${parsed.message} (for SRV records add "?srv=true" or use "_service._proto.name")`);
  }
  return { resolver, service: name };
});
