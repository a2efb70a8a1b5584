import { isIP, isIPv4, isIPv6 } from 'node:net';
import { describeValue, excerpt } from '../core/text';
import { parseAddress, type HostPort } from '../discovery/address';
import type { Resolver } from './types';

/** A target string split into its parts: `scheme://authority/path?query`. */
export interface ParsedTarget {
  readonly scheme: string;
  /** Between `//` and the next `/`: a registry or DNS server address, often empty. */
  readonly authority: string;
  /** After the authority's `/`, decoded: a service name, a host:port, a list of addresses. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** The target as given, for messages: bounded, control characters escaped, credentials removed. */
  readonly text: string;
}

/** What a scheme makes of a target: the resolver to use and the name it resolves. */
export interface ResolvedTarget {
  readonly resolver: Resolver;
  readonly service: string;
}

export type ResolverScheme = (target: ParsedTarget) => ResolvedTarget;

const SCHEME_PATTERN = /^[a-z][a-z0-9+.-]*$/i;
const TARGET_PATTERN = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)\/([^?#]*)(?:\?([^#]*))?$/i;
/** `scheme:rest` without `//`, as grpc-js writes `dns:host:port` and `ipv4:10.0.0.1:50051`. */
const OPAQUE_PATTERN = /^([a-z][a-z0-9+.-]*):(?!\/\/)([^?#]*)(?:\?([^#]*))?$/i;
/** What a DNS name may hold here (letters, digits, '-', '_', '.'), so a typo fails now, not at resolution. */
const HOST_NAME = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$/i;
/** grpc-js's port when a target names none (it assumes TLS). */
export const DEFAULT_TARGET_PORT = 443;

/**
 * Splits a target string; throws a TypeError naming what is wrong. Accepts every form grpc-js
 * accepts — `host:port` (resolved by DNS), `dns:host:port`, `dns:///host:port`,
 * `dns://server/host:port`, `ipv4:a:port,b:port`, `ipv6:[a]:port,…` — plus `scheme://authority/path`
 * for the schemes registered here. A missing port is grpc-js's 443.
 */
export function parseTarget(text: string): ParsedTarget {
  if (typeof text !== 'string' || text.trim().length === 0) {
    throw new TypeError(`target must be a non-empty string like "dns:///user.example.com:50051" or "static:///10.0.0.1:50051", got ${describeValue(text)}`);
  }
  const shown = messageText(text);
  const full = TARGET_PATTERN.exec(text);
  if (full) return normalise(full[1].toLowerCase(), full[2], decodePath(full[3], shown), full[4], shown);
  const opaque = OPAQUE_PATTERN.exec(text);
  if (opaque && isScheme(opaque[1].toLowerCase()) && !/^\d+$/.test(opaque[2])) {
    return normalise(opaque[1].toLowerCase(), '', decodePath(opaque[2], shown), opaque[3], shown);
  }
  if (text.includes('://')) {
    throw new TypeError(`target ${excerpt(text)} is not of the form scheme://[authority]/name, e.g. "static:///10.0.0.1:50051" or "consul://127.0.0.1:8500/user-service"`);
  }
  // grpc-js's default: anything that is not a known scheme is a name for DNS.
  const address = withPort(text.trim(), 'dns', shown);
  return { scheme: 'dns', authority: '', path: address, query: new URLSearchParams(), text: shown };
}

function normalise(scheme: string, authority: string, path: string, query: string | undefined, shown: string): ParsedTarget {
  const params = new URLSearchParams(query ?? '');
  if (scheme === 'ipv4' || scheme === 'ipv6') {
    if (authority) throw new TypeError(`target "${shown}": ${scheme}: takes no authority; write "${scheme}:address:port,…"`);
    return { scheme: 'static', authority: '', path: ipList(scheme, path, shown), query: params, text: shown };
  }
  if (scheme === 'unix' || scheme === 'unix-abstract') {
    throw new TypeError(`target "${shown}": ${scheme}: sockets are not supported (one socket has nothing to balance); use a plain grpc-js client`);
  }
  if (scheme === 'dns' && path && !params.has('srv') && !path.startsWith('_')) path = withPort(path, 'dns', shown);
  return { scheme, authority, path, query: params, text: shown };
}

function isScheme(scheme: string): boolean {
  return schemes.has(scheme) || GRPC_SCHEMES.has(scheme);
}

function decodePath(raw: string, shown: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new TypeError(`target "${shown}" has a malformed percent-encoding in its path`);
  }
}

/** `ipv4:`/`ipv6:` lists as grpc-js reads them: comma-separated literals of that family, port optional. */
function ipList(scheme: 'ipv4' | 'ipv6', path: string, shown: string): string {
  const entries = path.split(',').map((entry) => entry.trim());
  if (entries.length === 0 || entries.some((entry) => entry.length === 0)) {
    throw new TypeError(`target "${shown}": ${scheme}: needs a comma-separated list of addresses, with no empty entry`);
  }
  return entries
    .map((entry) => {
      // A bare IPv6 literal (several colons, no brackets) has no port, as grpc-js reads it.
      const bracketed = scheme === 'ipv6' && !entry.startsWith('[') && isIPv6(entry) ? `[${entry}]` : entry;
      const address = withPort(bracketed, scheme, shown);
      const parsed = parseAddress(address) as HostPort;
      const ok = scheme === 'ipv4' ? isIPv4(parsed.host) : isIPv6(parsed.host);
      if (!ok) throw new TypeError(`target "${shown}": ${excerpt(entry)} is not an ${scheme === 'ipv4' ? 'IPv4' : 'IPv6'} address`);
      return address;
    })
    .join(',');
}

/** `host:port` checked, with grpc-js's default port added when none is given. */
function withPort(text: string, scheme: string, shown: string): string {
  const hasPort = text.startsWith('[') ? /\]:[^:]*$/.test(text) : text.split(':').length === 2;
  const address = hasPort ? text : !text.startsWith('[') && isIPv6(text) ? `[${text}]:${DEFAULT_TARGET_PORT}` : `${text}:${DEFAULT_TARGET_PORT}`;
  const parsed = parseAddress(address);
  if (parsed instanceof Error || !(isIP(parsed.host) || HOST_NAME.test(parsed.host))) {
    throw new TypeError(
      `target "${shown}" is not a valid ${scheme} target: expected host:port (a host name or IP address, IPv6 in brackets, port 1-65535)`,
    );
  }
  return address;
}

/** The target as messages show it: control characters escaped, secrets removed, bounded. */
function messageText(text: string): string {
  const quoted = excerpt(text);
  const close = quoted.lastIndexOf('"');
  return quoted.slice(1, close) + quoted.slice(close + 1);
}

/**
 * The resolver schemes that target strings may use. Built-in schemes register themselves when
 * their module loads; users add their own with registerResolverScheme.
 */
const schemes = new Map<string, ResolverScheme>();

/** Target forms read by parseTarget itself, mapped onto the static resolver. */
const GRPC_SCHEMES = new Set(['ipv4', 'ipv6', 'unix', 'unix-abstract']);

/** Makes `scheme://…` targets resolve through `factory`. A later registration of the same scheme replaces the earlier. */
export function registerResolverScheme(scheme: string, factory: ResolverScheme): void {
  if (typeof scheme !== 'string' || !SCHEME_PATTERN.test(scheme)) {
    throw new TypeError(`resolver scheme must be letters, digits, "+", "." or "-", starting with a letter; got ${describeValue(scheme)}`);
  }
  if (typeof factory !== 'function') throw new TypeError(`resolver scheme "${scheme}" needs a factory function`);
  if (GRPC_SCHEMES.has(scheme.toLowerCase())) throw new TypeError(`resolver scheme "${scheme}" is grpc-js's own target form and cannot be replaced`);
  schemes.set(scheme.toLowerCase(), factory);
}

/** The resolver and service name for a target string; throws naming the unknown scheme. */
export function resolveTarget(target: ParsedTarget): ResolvedTarget {
  const factory = schemes.get(target.scheme);
  if (!factory) {
    const known = [...schemes.keys()].sort().join(', ');
    throw new TypeError(`target "${target.text}" uses unknown scheme ${excerpt(target.scheme)} (known: ${known}, and grpc-js's host:port, ipv4:, ipv6:)`);
  }
  return factory(target);
}
