import type { Etcd3, IOptions } from 'etcd3';
import { systemClock } from '../core/clock';
import { checkOptionsObject, durationOption, functionOption, requiredString, stringOption } from '../core/options';
import { excerpt, redactSecrets } from '../core/text';
import { formatAddress, parseAddress } from './address';
import { DEFAULT_ETCD_HOST, DEFAULT_ETCD_REQUEST_TIMEOUT_MS, EtcdError, type EtcdConnectionOptions, type EtcdTlsOptions } from './etcd-options';

// etcd is spoken through the `etcd3` package (its gRPC API, connection pool, watch manager and
// lease keep-alive). The package is an optional peer dependency: it is required here, when an
// etcd resolver or registry first needs a connection, so apps that never use etcd never load it.

/**
 * HTTP/2 keep-alive pings on the connections to etcd, so a watch on a member that vanished
 * without closing its socket (a partition, a black-holed host) is noticed and moved. etcd's own
 * floor for client pings is 5 s (--grpc-keepalive-min-time).
 */
const KEEPALIVE_TIME_MS = 10_000;
const KEEPALIVE_TIMEOUT_MS = 5_000;

/** A lazily opened etcd client shared by one resolver or registry. */
export interface EtcdConnection {
  /** The members, for messages ("127.0.0.1:2379,127.0.0.1:22379"). */
  readonly origin: string;
  /** The client, opened on first use. */
  client(): Etcd3;
  /** `error` as an EtcdError saying what was being done, with every secret removed. */
  fail(doing: string, error: unknown): EtcdError;
  /** Closes the client if this connection opened it; the next client() opens a new one. */
  close(): void;
}

function loadEtcd3(where: string): typeof import('etcd3') {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('etcd3') as typeof import('etcd3');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') {
      throw new EtcdError(`${where}: etcd support needs the "etcd3" package; install it with "npm install etcd3"`);
    }
    throw error;
  }
}

function pem(value: unknown, field: string): Buffer | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && value.length > 0) return Buffer.from(value);
  if (Buffer.isBuffer(value) && value.length > 0) return value;
  throw new TypeError(`${field} must be a non-empty PEM string or Buffer`);
}

/** Checks the options now (so a bad one throws at construction) and opens the client when first needed. */
export function etcdConnection(options: EtcdConnectionOptions, where: string): EtcdConnection {
  checkOptionsObject(where, options, false);
  const now = functionOption(where, 'now', options.now, systemClock);
  const requestTimeoutMs = durationOption(where, 'requestTimeoutMs', options.requestTimeoutMs, DEFAULT_ETCD_REQUEST_TIMEOUT_MS, { min: 1 });
  const own = options.client;
  const auth = options.auth;
  let password: string | undefined;
  if (auth !== undefined) {
    if (auth === null || typeof auth !== 'object') throw new TypeError(`${where}: auth must be an object with username and password`);
    requiredString(where, 'auth.username', auth.username, true);
    // The value is deliberately not echoed: it is a secret.
    if (typeof auth.password !== 'string' || auth.password.length === 0) throw new TypeError(`${where}: auth.password must be a non-empty string`);
    password = auth.password;
  }
  const secrets = [password];
  const redact = (text: string) => redactSecrets(text, secrets);

  if (own !== undefined) {
    if (own === null || typeof own !== 'object' || typeof (own as { watch?: unknown }).watch !== 'function') {
      throw new TypeError(`${where}: client must be an Etcd3 instance from the etcd3 package`);
    }
    const given = own as Etcd3;
    return {
      origin: 'the given etcd3 client',
      client: () => given,
      fail: (doing, error) => new EtcdError(`${where}: ${doing} (the given etcd3 client): ${redact(messageOf(error))}`),
      close: () => undefined,
    };
  }

  const rawHosts = options.hosts ?? DEFAULT_ETCD_HOST;
  const list = typeof rawHosts === 'string' ? rawHosts.split(',') : rawHosts;
  if (!Array.isArray(list) || list.length === 0) throw new TypeError(`${where}: hosts must be "host:port" or a non-empty array of them`);
  const tlsOption = options.tls;
  if (tlsOption !== undefined && typeof tlsOption !== 'boolean' && (tlsOption === null || typeof tlsOption !== 'object')) {
    throw new TypeError(`${where}: tls must be true or an object with ca/cert/key/servername`);
  }
  let secure = tlsOption !== undefined && tlsOption !== false;
  const parsedHosts = list.map((entry, i) => {
    if (typeof entry !== 'string' || entry.trim().length === 0) throw new TypeError(`${where}: hosts[${i}] must be a non-empty "host:port" string`);
    let text = entry.trim();
    if (/^[^/]*@|\/\/[^/]*@/.test(text)) throw new TypeError(`${where}: hosts must not contain credentials; pass them as options.auth`);
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
    if (scheme) {
      const name = scheme[1].toLowerCase();
      if (name !== 'http' && name !== 'https') throw new TypeError(`${where}: host ${excerpt(entry)} must use http:// or https://`);
      if (name === 'https') secure = true;
      text = text.slice(scheme[0].length).replace(/\/+$/, '');
    }
    const parsed = parseAddress(text);
    if (parsed instanceof Error) throw new TypeError(`${where}: host ${excerpt(entry)}: expected "host:port"`);
    return formatAddress(parsed.host, parsed.port);
  });
  const tls: EtcdTlsOptions = typeof tlsOption === 'object' && tlsOption !== null ? tlsOption : {};
  const ca = pem(tls.ca, `${where}: tls.ca`);
  const cert = pem(tls.cert, `${where}: tls.cert`);
  const key = pem(tls.key, `${where}: tls.key`);
  if ((cert === undefined) !== (key === undefined)) throw new TypeError(`${where}: tls.cert and tls.key go together`);
  stringOption(where, 'tls.servername', tls.servername, undefined);
  const origin = parsedHosts.join(',');

  const config: IOptions = {
    hosts: parsedHosts.map((h) => `${secure ? 'https' : 'http'}://${h}`),
    auth: auth && { username: auth.username, password: auth.password },
    grpcOptions: {
      'grpc.keepalive_time_ms': KEEPALIVE_TIME_MS,
      'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
      ...(tls.servername ? { 'grpc.ssl_target_name_override': tls.servername, 'grpc.default_authority': tls.servername } : {}),
    },
    // Streams (watches, lease keep-alives) live as long as they are wanted; everything else is bounded.
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: now() + requestTimeoutMs }),
  };
  if (secure && (ca || cert)) {
    // etcd3 hands these to grpc.credentials.createSsl; without a CA it trusts the system store.
    config.credentials = { rootCertificate: ca ?? (undefined as unknown as Buffer), privateKey: key, certChain: cert };
  }

  let client: Etcd3 | undefined;
  return {
    origin,
    client() {
      if (!client) {
        const { Etcd3: Client } = loadEtcd3(where);
        client = new Client(config);
      }
      return client;
    },
    fail: (doing, error) => new EtcdError(`${where}: ${doing} at ${origin}: ${redact(messageOf(error))}`),
    close() {
      client?.close();
      client = undefined;
    },
  };
}

/** An error's message, one line, without trusting its type. */
function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/[\r\n]+/g, ' ').slice(0, 500);
}
