import { readFileSync } from 'node:fs';
import type Consul from 'consul';
import { isIP } from 'node:net';
import { stringOption } from '../core/options';
import { excerpt } from '../core/text';
import { parseAddress } from './address';

// Where a Consul agent is and how to speak to it: the options every Consul resolver and registry
// takes, checked once, and the error type of every failed exchange.

/** Consul's own default agent address. */
const DEFAULT_CONSUL_ADDRESS = '127.0.0.1:8500';

/** TLS settings for HTTPS to Consul. */
export interface ConsulTlsOptions {
  /** CA certificate(s) to trust instead of the system store (PEM). Defaults to the file named by CONSUL_CACERT. */
  ca?: string | Buffer | (string | Buffer)[];
  /** Client certificate (PEM), when the agent verifies incoming connections. */
  cert?: string | Buffer;
  /** Client key (PEM) for `cert`. */
  key?: string | Buffer;
  /** Name to verify the agent's certificate against, when it differs from the address's host. */
  servername?: string;
}

/** How to reach a Consul agent. */
export interface ConsulConnectionOptions {
  /**
   * A configured client from the `consul` package (its agent address, TLS and default token are
   * used as they are). Without it, one is built from `address`, `token` and `tls`.
   */
  consul?: Consul;
  /**
   * "host:port" or "http(s)://host:port". Defaults to CONSUL_HTTP_ADDR, else "127.0.0.1:8500".
   * No credentials here: the token goes in `token`.
   */
  address?: string;
  /**
   * ACL token, sent only in the X-Consul-Token header: never in a URL, an error or a log line.
   * Defaults to CONSUL_HTTP_TOKEN (not with a `consul` client of your own, which has its own).
   */
  token?: string;
  /** HTTPS to the agent; `true` uses the system CAs (or CONSUL_CACERT). Implied by an https:// address. */
  tls?: boolean | ConsulTlsOptions;
  /** Bound on each request that does not block. Default 10 s. */
  requestTimeoutMs?: number;
}

/** A failed exchange with Consul. Its message never contains the ACL token. */
export class ConsulError extends Error {
  override readonly name = 'ConsulError';
  /** The HTTP status, when Consul answered. */
  readonly status: number | undefined;
  constructor(message: string, status?: number) {
    super(message);
    this.status = status;
  }
}

export function isConsulError(error: unknown): error is ConsulError {
  return error instanceof ConsulError;
}

export interface ConsulConnection {
  readonly secure: boolean;
  readonly host: string;
  readonly port: number;
  readonly token: string | undefined;
  readonly tls: ConsulTlsOptions | undefined;
}

export function checkToken(token: unknown, where: string): string | undefined {
  if (token === undefined) return undefined;
  if (typeof token !== 'string' || token.length === 0 || /[\r\n]/.test(token)) {
    // The value is deliberately not echoed: it is a secret.
    throw new TypeError(`${where}: token must be a non-empty single-line string`);
  }
  return token;
}

/** The agent's address, token and TLS from the options and the CONSUL_* environment, checked. */
export function resolveConnection(options: ConsulConnectionOptions, where: string): ConsulConnection {
  const address = options.address ?? (process.env.CONSUL_HTTP_ADDR || DEFAULT_CONSUL_ADDRESS);
  const token = checkToken(options.token ?? (process.env.CONSUL_HTTP_TOKEN || undefined), where);
  if (typeof address !== 'string' || address.trim().length === 0) {
    throw new TypeError(`${where}: address must be a non-empty "host:port" or "http(s)://host:port" string`);
  }
  let text = address.trim();
  let secure = false;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  if (scheme) {
    const name = scheme[1].toLowerCase();
    if (name !== 'http' && name !== 'https') throw new TypeError(`${where}: address scheme must be http or https, got ${excerpt(name)}`);
    secure = name === 'https';
    text = text.slice(scheme[0].length).replace(/\/+$/, '');
  }
  if (text.includes('@')) throw new TypeError(`${where}: address must not contain credentials; pass the ACL token as options.token`);
  if (/[/?#]/.test(text)) {
    // Quoted only up to the path: what follows may be a query carrying a token in any spelling.
    throw new TypeError(`${where}: address ${excerpt(text.split(/[/?#]/)[0])} must be just a host and port, without a path or query`);
  }
  // Consul's own default ports when none is given: 8500 for HTTP, 8501 for HTTPS.
  const defaultPort = secure || (options.tls !== undefined && options.tls !== false) ? 8501 : 8500;
  const withPort =
    isIP(text) === 6 ? `[${text}]:${defaultPort}` : /^\[.*\]$/.test(text) || !text.includes(':') ? `${text}:${defaultPort}` : text;
  const parsed = parseAddress(withPort);
  if (parsed instanceof Error) throw new TypeError(`${where}: address: ${parsed.message}`);

  let tls: ConsulTlsOptions | undefined;
  const tlsOption = options.tls;
  if (tlsOption !== undefined && tlsOption !== false) {
    if (tlsOption !== true && (tlsOption === null || typeof tlsOption !== 'object')) {
      throw new TypeError(`${where}: tls must be true or an object with ca/cert/key/servername`);
    }
    secure = true;
    tls = tlsOption === true ? {} : { ...tlsOption };
  }
  if (secure) {
    tls ??= {};
    if (tls.ca === undefined && process.env.CONSUL_CACERT) {
      try {
        tls.ca = readFileSync(process.env.CONSUL_CACERT);
      } catch (error) {
        throw new TypeError(`${where}: cannot read the CA file named by CONSUL_CACERT: ${(error as Error).message}`);
      }
    }
    if ((tls.cert === undefined) !== (tls.key === undefined)) throw new TypeError(`${where}: tls.cert and tls.key go together`);
    stringOption(where, 'tls.servername', tls.servername, undefined);
  }
  return { secure, host: parsed.host, port: parsed.port, token, tls };
}
