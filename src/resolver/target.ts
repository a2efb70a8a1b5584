import { describeValue, excerpt } from '../core/text';
import type { Resolver } from './types';

/** A target string split into its parts: `scheme://authority/path?query`. */
export interface ParsedTarget {
  readonly scheme: string;
  /** Between `//` and the next `/`: a registry or DNS server address, often empty. */
  readonly authority: string;
  /** After the authority's `/`, decoded: a service name, a host:port, a list of addresses. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** The target as given, for messages. Never contains credentials: schemes keep those out of targets. */
  readonly text: string;
}

/** What a scheme makes of a target: the resolver to use and the name it resolves. */
export interface ResolvedTarget {
  readonly resolver: Resolver;
  readonly service: string;
}

export type ResolverScheme = (target: ParsedTarget) => ResolvedTarget;

const TARGET_PATTERN = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)\/([^?#]*)(?:\?([^#]*))?$/i;

/** Splits a target string; throws a TypeError naming what is wrong. */
export function parseTarget(text: string): ParsedTarget {
  if (typeof text !== 'string' || text.length === 0) {
    throw new TypeError(`target must be a non-empty string like "static:///10.0.0.1:50051", got ${describeValue(text)}`);
  }
  const match = TARGET_PATTERN.exec(text);
  if (!match) {
    throw new TypeError(
      `target ${excerpt(text)} is not of the form scheme://[authority]/name, e.g. "static:///10.0.0.1:50051" or "consul://127.0.0.1:8500/user-service"`,
    );
  }
  let path: string;
  try {
    path = decodeURIComponent(match[3]);
  } catch {
    throw new TypeError(`target ${excerpt(text)} has a malformed percent-encoding in its path`);
  }
  return {
    scheme: match[1].toLowerCase(),
    authority: match[2],
    path,
    query: new URLSearchParams(match[4] ?? ''),
    text,
  };
}

/**
 * The resolver schemes that target strings may use. Built-in schemes register themselves when
 * their module loads; users add their own with registerResolverScheme.
 */
const schemes = new Map<string, ResolverScheme>();

/** Makes `scheme://…` targets resolve through `factory`. A later registration of the same scheme replaces the earlier. */
export function registerResolverScheme(scheme: string, factory: ResolverScheme): void {
  if (!/^[a-z][a-z0-9+.-]*$/i.test(scheme)) {
    throw new TypeError(`resolver scheme must be letters, digits, "+", "." or "-", starting with a letter; got ${JSON.stringify(scheme)}`);
  }
  if (typeof factory !== 'function') throw new TypeError(`resolver scheme "${scheme}" needs a factory function`);
  schemes.set(scheme.toLowerCase(), factory);
}

/** The resolver and service name for a target string; throws naming the unknown scheme. */
export function resolveTarget(target: ParsedTarget): ResolvedTarget {
  const factory = schemes.get(target.scheme);
  if (!factory) {
    const known = [...schemes.keys()].sort().join(', ');
    throw new TypeError(`target ${excerpt(target.text)} uses unknown scheme ${excerpt(target.scheme)} (known: ${known})`);
  }
  return factory(target);
}
