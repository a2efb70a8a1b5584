import { isIPv6 } from 'node:net';
import { describeValue, excerpt } from '../core/text';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * Splits "host:port" or "[v6]:port". Returns an Error (not thrown) naming what is wrong, so that
 * resolvers can report a bad instance and keep the others.
 */
export function parseAddress(address: string): HostPort | Error {
  if (typeof address !== 'string' || address.length === 0) {
    return new Error(`address must be a non-empty "host:port" string, got ${describeValue(address)}`);
  }
  let host: string;
  let portText: string;
  if (address.startsWith('[')) {
    const close = address.indexOf(']');
    if (close < 0 || address[close + 1] !== ':') {
      return new Error(`address ${excerpt(address)} is not of the form "[ipv6]:port"`);
    }
    host = address.slice(1, close);
    portText = address.slice(close + 2);
    if (!isIPv6(host)) return new Error(`address ${excerpt(address)} has ${excerpt(host)} in brackets, which is not an IPv6 address`);
  } else {
    const colon = address.lastIndexOf(':');
    if (colon <= 0) return new Error(`address ${excerpt(address)} has no port; expected "host:port"`);
    host = address.slice(0, colon);
    portText = address.slice(colon + 1);
    if (host.includes(':')) return new Error(`address ${excerpt(address)} looks like IPv6 without brackets; write ${excerpt(`[${host}]:${portText}`)}`);
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
    return new Error(`address ${excerpt(address)} has port ${excerpt(portText)}, expected 1-65535`);
  }
  return { host, port };
}

/** "host:port", with IPv6 hosts in brackets. */
export function formatAddress(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}
