import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { formatAddress } from '../discovery/address';
import { integerOption, requiredString, stringOption } from '../core/options';
import { MAX_TIMER_MS } from '../core/duration';
import { describeValue } from '../core/text';

// What a registration asks of Consul, checked and written as the agent's own JSON.

/** A duration: milliseconds, or a Go duration string as Consul writes them ("10s", "1m30s"). */
export type Duration = number | string;

interface CheckTiming {
  /** How often Consul runs the check. Default "5s". */
  interval?: Duration;
  /** How long one run may take. Default "3s". */
  timeout?: Duration;
  /** Consul removes the instance after its check has been critical this long. Default "1m" (Consul's minimum). */
  deregisterCriticalAfter?: Duration;
}

/** Consul calls grpc.health.v1.Health/Check on the server (which must serve it, e.g. with grpc-health-check). */
export interface GrpcCheck extends CheckTiming {
  type: 'grpc';
  /** The service name asked about; "" (the default) asks about the whole server. */
  service?: string;
  /** "host:port" to check; defaults to the registered address (127.0.0.1 without one: the agent runs beside the service) and port. */
  address?: string;
  /** Check over TLS. */
  tls?: boolean;
  /** With `tls`, accept any certificate. */
  tlsSkipVerify?: boolean;
}

/** Consul fetches a URL; 2xx is passing, 429 warning, anything else critical. */
export interface HttpCheck extends CheckTiming {
  type: 'http';
  url: string;
  method?: string;
  headers?: Record<string, string[]>;
  tlsSkipVerify?: boolean;
}

/** Consul opens a TCP connection. */
export interface TcpCheck extends CheckTiming {
  type: 'tcp';
  /** "host:port" to connect to; defaults to the registered address (127.0.0.1 without one) and port. */
  address?: string;
}

/** The library tells Consul "still alive" every ttl/3; the instance turns critical when the process stops doing so. */
export interface TtlCheck {
  type: 'ttl';
  ttl: Duration;
  deregisterCriticalAfter?: Duration;
}

export type ConsulCheck = GrpcCheck | HttpCheck | TcpCheck | TtlCheck;

export interface ConsulRegistration {
  /** The service name resolvers watch. */
  name: string;
  /** Unique per agent; defaults to "name-host-port". */
  id?: string;
  /** Host (IP or name, no port) clients connect to; Consul uses the node's address when missing. */
  address?: string;
  port: number;
  /** Share of traffic while passing (Consul's Weights.Passing), an integer >= 1. */
  weight?: number;
  /** Share of traffic while a check warns (Weights.Warning), an integer >= 0; 0 sends none. */
  warningWeight?: number;
  tags?: readonly string[];
  meta?: Readonly<Record<string, string>>;
  /** How Consul learns the instance's health; a TCP check on the address by default, `false` for none. */
  check?: ConsulCheck | false;
}


/** Kitex's and Consul's usual cadence: a failed instance is noticed within seconds. */
const DEFAULT_CHECK_INTERVAL = '5s';
/** A health answer takes milliseconds; this tolerates a long GC pause. */
const DEFAULT_CHECK_TIMEOUT = '3s';
/** A crashed process that never deregistered is cleaned up; Consul enforces at least a minute. */
const DEFAULT_DEREGISTER_CRITICAL_AFTER = '1m';
/** Two heartbeats may be lost before Consul turns a TTL check critical. */
const HEARTBEATS_PER_TTL = 3;
/** Heartbeats every ttl/3: a shorter TTL would have the library hammer the agent. */
const MIN_TTL_MS = 1_000;
/** Consul's limits on service meta. */
const META_MAX_PAIRS = 64;
const META_KEY_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
const META_VALUE_MAX_CHARS = 512;

const DURATION_UNITS_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** Milliseconds of a Duration; throws a TypeError naming `field`. */
function durationMs(value: Duration, field: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value <= 0) throw new TypeError(`${field} must be > 0 ms, got ${value}`);
    return value;
  }
  if (typeof value === 'string' && /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(value)) {
    let total = 0;
    for (const [, amount, , unit] of value.matchAll(/(\d+(\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(amount) * DURATION_UNITS_MS[unit];
    if (total > 0) return total;
  }
  throw new TypeError(`${field} must be milliseconds or a duration like "10s" or "1m30s", got ${describeValue(value)}`);
}

/** The Go duration string Consul expects. */
function goDuration(value: Duration, field: string): string {
  const ms = durationMs(value, field);
  return typeof value === 'string' ? value : `${Math.round(ms)}ms`;
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function checkHostPort(value: unknown, field: string): string {
  if (typeof value !== 'string' || !/^(\[[^\]]+\]|[^:\s]+):\d{1,5}$/.test(value)) {
    throw new TypeError(`${field} must be "host:port" (IPv6 in brackets), got ${describeValue(value)}`);
  }
  return value;
}

export interface PreparedRegistration {
  readonly id: string;
  readonly name: string;
  readonly body: Record<string, unknown>;
  /** Heartbeat period for TTL checks. */
  readonly heartbeatMs: number | undefined;
}

export function prepare(registration: ConsulRegistration): PreparedRegistration {
  const where = 'consulRegistry.register';
  if (registration === null || typeof registration !== 'object') throw new TypeError(`${where}: expects an object with name and port`);
  const name = requiredString(where, 'name', registration.name);
  const port = integerOption(where, 'port', registration.port ?? null, 0, { min: 1, max: 65535 });
  let address: string | undefined;
  if (registration.address !== undefined) {
    address = stripBrackets(requiredString(where, 'address', registration.address).trim());
    if (address.includes(':') && isIP(address) !== 6) {
      throw new TypeError(`${where}: address must be a host without a port (the port goes in "port"), got ${describeValue(registration.address)}`);
    }
    if (/[\s/]/.test(address)) throw new TypeError(`${where}: address must be an IP address or host name, got ${describeValue(registration.address)}`);
  }
  const id = stringOption(where, 'id', registration.id, undefined) ?? `${name}-${address ?? hostname()}-${port}`;
  const weight = integerOption(where, 'weight', registration.weight, 1, { min: 1 });
  const warningWeight = integerOption(where, 'warningWeight', registration.warningWeight, 1, { min: 0 });

  let tags: string[] | undefined;
  if (registration.tags !== undefined) {
    if (!Array.isArray(registration.tags)) throw new TypeError(`${where}: tags must be an array of strings`);
    tags = registration.tags.map((tag, i) => requiredString(where, `tags[${i}]`, tag));
  }
  let meta: Record<string, string> | undefined;
  if (registration.meta !== undefined) {
    if (registration.meta === null || typeof registration.meta !== 'object' || Array.isArray(registration.meta)) {
      throw new TypeError(`${where}: meta must be an object of string values`);
    }
    const entries = Object.entries(registration.meta);
    if (entries.length > META_MAX_PAIRS) throw new TypeError(`${where}: meta has ${entries.length} keys; Consul allows ${META_MAX_PAIRS}`);
    for (const [key, value] of entries) {
      if (!META_KEY_PATTERN.test(key) || key.startsWith('consul-')) {
        throw new TypeError(`${where}: meta key ${describeValue(key)} must be 1-128 letters, digits, "_" or "-", not starting with "consul-"`);
      }
      if (typeof value !== 'string' || value.length > META_VALUE_MAX_CHARS) {
        throw new TypeError(`${where}: meta[${describeValue(key)}] must be a string of at most ${META_VALUE_MAX_CHARS} characters`);
      }
    }
    meta = { ...registration.meta };
  }

  // Consul runs checks from the agent, which runs beside the service: without an address, the
  // service is checked on loopback.
  const checkTarget = formatAddress(address ?? '127.0.0.1', port);
  let check: Record<string, unknown> | undefined;
  let heartbeatMs: number | undefined;
  const spec = registration.check === undefined ? ({ type: 'tcp' } as TcpCheck) : registration.check;
  if (spec !== false) {
    if (spec === null || typeof spec !== 'object') throw new TypeError(`${where}: check must be an object with a type (grpc, http, tcp, ttl) or false`);
    const timing = (c: CheckTiming) => ({
      Interval: goDuration(c.interval ?? DEFAULT_CHECK_INTERVAL, `${where}: check.interval`),
      Timeout: goDuration(c.timeout ?? DEFAULT_CHECK_TIMEOUT, `${where}: check.timeout`),
      DeregisterCriticalServiceAfter: goDuration(c.deregisterCriticalAfter ?? DEFAULT_DEREGISTER_CRITICAL_AFTER, `${where}: check.deregisterCriticalAfter`),
    });
    switch (spec.type) {
      case 'grpc': {
        const target = spec.address === undefined ? checkTarget : checkHostPort(spec.address, `${where}: check.address`);
        const service = spec.service === undefined ? '' : spec.service;
        if (typeof service !== 'string') throw new TypeError(`${where}: check.service must be a string`);
        check = {
          Name: `gRPC health of ${name}`,
          GRPC: service ? `${target}/${service}` : target,
          GRPCUseTLS: spec.tls === true,
          TLSSkipVerify: spec.tlsSkipVerify === true,
          ...timing(spec),
        };
        break;
      }
      case 'http': {
        const url = requiredString(where, 'check.url', spec.url);
        if (!/^https?:\/\/[^/\s]+/i.test(url)) throw new TypeError(`${where}: check.url must be an http(s) URL, got ${describeValue(url)}`);
        check = {
          Name: `HTTP health of ${name}`,
          HTTP: url,
          Method: stringOption(where, 'check.method', spec.method, undefined),
          Header: spec.headers,
          TLSSkipVerify: spec.tlsSkipVerify === true,
          ...timing(spec),
        };
        break;
      }
      case 'tcp': {
        const target = spec.address === undefined ? checkTarget : checkHostPort(spec.address, `${where}: check.address`);
        check = { Name: `TCP connect to ${name}`, TCP: target, ...timing(spec) };
        break;
      }
      case 'ttl': {
        if (spec.ttl === undefined) throw new TypeError(`${where}: check.ttl is required for a TTL check`);
        const ttlMs = durationMs(spec.ttl, `${where}: check.ttl`);
        if (ttlMs / HEARTBEATS_PER_TTL > MAX_TIMER_MS) throw new RangeError(`${where}: check.ttl must be at most ${MAX_TIMER_MS * HEARTBEATS_PER_TTL} ms, got ${describeValue(spec.ttl)}`);
        if (ttlMs < MIN_TTL_MS) throw new TypeError(`${where}: check.ttl must be at least ${MIN_TTL_MS} ms, got ${describeValue(spec.ttl)}`);
        heartbeatMs = ttlMs / HEARTBEATS_PER_TTL;
        check = {
          Name: `TTL heartbeat of ${name}`,
          TTL: goDuration(spec.ttl, `${where}: check.ttl`),
          DeregisterCriticalServiceAfter: goDuration(spec.deregisterCriticalAfter ?? DEFAULT_DEREGISTER_CRITICAL_AFTER, `${where}: check.deregisterCriticalAfter`),
        };
        break;
      }
      default:
        throw new TypeError(`${where}: check.type must be "grpc", "http", "tcp" or "ttl", got ${describeValue((spec as { type?: unknown }).type)}`);
    }
  }

  // Written as Consul's own JSON: see ConsulAccess.registerService for why.
  const body: Record<string, unknown> = {
    ID: id,
    Name: name,
    Port: port,
    Weights: { Passing: weight, Warning: warningWeight },
  };
  if (address !== undefined) body.Address = address;
  if (tags) body.Tags = tags;
  if (meta) body.Meta = meta;
  if (check) body.Check = check;
  return { id, name, body, heartbeatMs };
}
