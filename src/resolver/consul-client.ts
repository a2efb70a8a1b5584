import { readFileSync } from 'node:fs';
import type { ClientRequest, IncomingHttpHeaders, IncomingMessage, RequestOptions } from 'node:http';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import type Consul from 'consul';
import { durationOption } from '../core/duration';
import { excerpt, redactSecrets } from '../core/text';
import { formatAddress, parseAddress } from './address';

// Consul is reached through the `consul` package (a user may hand in their own client). What this
// module adds around it: an AbortSignal for blocking queries (through the package's cancel
// context), a bound on answer bodies, the token kept out of every message, and errors that name
// the agent and the request.

/** Consul's own default agent address. */
const DEFAULT_CONSUL_ADDRESS = '127.0.0.1:8500';
/** Bound on a request that does not block (register, deregister, the first read of a watch). */
const DEFAULT_CONSUL_REQUEST_TIMEOUT_MS = 10_000;
/** A health list of thousands of instances is a few MiB; far beyond that is not Consul talking. */
const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;
/** Consul error bodies are short; a long one is cut so it cannot flood a log line. */
const MAX_ERROR_BODY_CHARS = 300;

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

/** One answer: the status, the headers and the decoded body (JSON when Consul sent JSON). */
export interface ConsulAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
}

export interface ConsulCall {
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** What a papi request (the `consul` package's HTTP layer) carries into its extensions. */
interface PapiRequest {
  transport: { request(options: RequestOptions): ClientRequest };
}
/** What a papi error carries. */
interface PapiError extends Error {
  code?: string;
  isTimeout?: boolean;
  isAbort?: boolean;
  isCodec?: boolean;
  response?: IncomingMessage & { body?: unknown };
}
/** The parts of the package's client used here beyond its typed API. */
interface PapiClient {
  _put(request: Record<string, unknown>, handler: (request: { err?: Error & { response?: unknown }; res?: unknown }, next: (stop: false, error?: Error, value?: unknown) => void) => void): Promise<unknown>;
  _ext(event: 'onRequest', hook: (request: PapiRequest, next: () => void) => void): void;
  _opts?: { baseUrl?: { protocol?: string; hostname?: string; port?: string } };
  _defaults?: { token?: unknown };
}

/** Clients that already cut oversized answers, so a user's client handed in twice gets one hook. */
const bounded = new WeakSet<object>();

/**
 * Cuts any answer over MAX_RESPONSE_BYTES: the package reads whole bodies into memory, and a
 * misbehaving endpoint must not be able to make it read without end. Done in papi's request hook,
 * around the transport, so it holds for a user's own client too.
 */
function boundAnswers(consul: Consul): void {
  if (bounded.has(consul)) return;
  bounded.add(consul);
  (consul as unknown as PapiClient)._ext('onRequest', (request, next) => {
    const transport = request.transport;
    request.transport = {
      request(options) {
        const req = transport.request(options);
        req.once('response', (res: IncomingMessage) => {
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_RESPONSE_BYTES) req.destroy(new Error(`answer larger than ${MAX_RESPONSE_BYTES} bytes`));
          });
        });
        return req;
      },
    };
    next();
  });
}

interface Connection {
  readonly secure: boolean;
  readonly host: string;
  readonly port: number;
  readonly token: string | undefined;
  readonly tls: ConsulTlsOptions | undefined;
}

function checkToken(token: unknown, where: string): string | undefined {
  if (token === undefined) return undefined;
  if (typeof token !== 'string' || token.length === 0 || /[\r\n]/.test(token)) {
    // The value is deliberately not echoed: it is a secret.
    throw new TypeError(`${where}: token must be a non-empty single-line string`);
  }
  return token;
}

function resolveConnection(options: ConsulConnectionOptions, where: string): Connection {
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
    if (tls.servername !== undefined && (typeof tls.servername !== 'string' || tls.servername.length === 0)) {
      throw new TypeError(`${where}: tls.servername must be a non-empty string`);
    }
  }
  return { secure, host: parsed.host, port: parsed.port, token, tls };
}

/** Loaded when a Consul resolver or registry is made, so apps without Consul never load it. */
function loadConsul(): typeof Consul {
  return require('consul') as typeof Consul;
}

/**
 * Consul access shared by the resolver and the registry: a `consul` package client (the user's
 * or one built from the options) plus the guarantees listed at the top of this file.
 */
export class ConsulAccess {
  /** "http(s)://host:port", for messages. */
  readonly origin: string;
  readonly consul: Consul;
  readonly requestTimeoutMs: number;
  /** Whether this access built `consul` (and so may close its sockets). */
  private readonly owned: boolean;
  /** Per-request token: ours, or undefined to leave a user's client to its own default. */
  private readonly token: string | undefined;
  /** The token the agent should see on a request made below the package's typed API. */
  private readonly headerToken: string | undefined;
  private readonly secrets: (string | undefined)[];

  constructor(options: ConsulConnectionOptions, where: string) {
    if (options === null || typeof options !== 'object') throw new TypeError(`${where}: options must be an object`);
    this.requestTimeoutMs = durationOption(where, 'requestTimeoutMs', options.requestTimeoutMs, DEFAULT_CONSUL_REQUEST_TIMEOUT_MS, { min: 1 });
    const given = options.consul;
    if (given !== undefined) {
      if (given === null || typeof given !== 'object' || typeof (given as { health?: unknown }).health !== 'object') {
        throw new TypeError(`${where}: consul must be a client from the "consul" package (new Consul({...}))`);
      }
      if (options.address !== undefined || options.tls !== undefined) {
        throw new TypeError(`${where}: give either consul (a client of your own) or address/tls, not both`);
      }
      this.token = checkToken(options.token, where);
      this.consul = given;
      this.owned = false;
      const papi = given as unknown as PapiClient;
      const base = papi._opts?.baseUrl;
      this.origin = base?.hostname ? `${(base.protocol ?? 'http:').replace(/:$/, '')}://${base.hostname}${base.port ? `:${base.port}` : ''}` : 'your consul client';
      const own = papi._defaults?.token;
      this.headerToken = this.token ?? (typeof own === 'string' ? own : undefined);
      this.secrets = [this.token, this.headerToken];
    } else {
      const connection = resolveConnection(options, where);
      const { secure, host, port, token, tls } = connection;
      this.token = undefined;
      this.origin = `${secure ? 'https' : 'http'}://${formatAddress(host, port)}`;
      // Loaded here, with the client: an app that never talks to Consul does not load them.
      const http = require('node:http') as typeof import('node:http');
      const https = require('node:https') as typeof import('node:https');
      const agent = secure
        ? new https.Agent({ keepAlive: true, ca: tls?.ca, cert: tls?.cert, key: tls?.key, servername: tls?.servername })
        : new http.Agent({ keepAlive: true });
      const ConsulClient = loadConsul();
      this.consul = new ConsulClient({
        host: isIP(host) === 6 ? `[${host}]` : host,
        port,
        secure,
        agent,
        defaults: token ? { token } : undefined,
      });
      this.owned = true;
      this.headerToken = token;
      this.secrets = [token];
    }
    boundAnswers(this.consul);
  }

  /** Removes the token (and anything shaped like a credential) from text that came from elsewhere. */
  redact(text: string): string {
    return redactSecrets(text, this.secrets);
  }

  /** Closes idle and in-flight connections of a client built here; the next request opens a new one. */
  close(): void {
    if (this.owned) this.consul.destroy();
  }

  /**
   * Runs one request through the package: `run` gets the options every call takes (cancel
   * context, timeout, token); the answer comes back with its status and headers, and every
   * failure as a ConsulError naming `method path` at the agent.
   */
  async call(method: string, path: string, call: ConsulCall, run: (common: Record<string, unknown>) => Promise<unknown>): Promise<ConsulAnswer> {
    const what = `consul ${method} ${path} at ${this.origin}`;
    const timeoutMs = call.timeoutMs ?? this.requestTimeoutMs;
    const { signal } = call;
    if (signal?.aborted) throw new ConsulError(`${what}: aborted`);
    // The package cancels a request when its context emits "cancel"; includeResponse makes it
    // hand back the response (status, X-Consul-Index) with the body.
    const ctx = Object.assign(new EventEmitter(), { includeResponse: true });
    const onAbort = () => ctx.emit('cancel');
    signal?.addEventListener('abort', onAbort, { once: true });
    const common: Record<string, unknown> = { ctx, timeout: timeoutMs };
    if (this.token) common.token = this.token;
    try {
      const result = await run(common);
      const [res, body] = Array.isArray(result) ? (result as [IncomingMessage, unknown]) : [undefined, result];
      return { status: res?.statusCode ?? 200, headers: res?.headers ?? {}, body };
    } catch (error) {
      const e = error as PapiError;
      const res = e.response;
      if (res && typeof res.statusCode === 'number' && (res.statusCode < 200 || res.statusCode > 299)) {
        return { status: res.statusCode, headers: res.headers, body: res.body };
      }
      if (e.isCodec) {
        const raw = res?.body;
        const size = Buffer.isBuffer(raw) ? raw.length : typeof raw === 'string' ? raw.length : 0;
        throw new ConsulError(`${what}: answer is not JSON (${size} bytes)`);
      }
      if (signal?.aborted || e.isAbort) throw new ConsulError(`${what}: aborted`);
      if (e.isTimeout) throw new ConsulError(`${what}: no answer within ${timeoutMs} ms`);
      // The package prefixes its messages with "consul: <request name>: "; ours say that already.
      const message = String(e.message ?? e).replace(/^consul: [\w.]+: /, '');
      throw new ConsulError(`${what}: ${this.redact(e.code ? `${e.code} ${message}` : message)}`);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * PUT /v1/agent/service/register with Consul's own JSON. The package's agent.service.register
   * rebuilds the body field by field and drops `Weights` (the weight every resolver reads), so this
   * one request goes below its typed API, through the same client, hooks and cancel context.
   */
  registerService(body: Record<string, unknown>, call: ConsulCall = {}): Promise<ConsulAnswer> {
    const papi = this.consul as unknown as PapiClient;
    return this.call('PUT', '/v1/agent/service/register', call, ({ ctx, timeout }) =>
      papi._put(
        {
          name: 'agent.service.register',
          path: '/agent/service/register',
          // A re-registration with another kind of check must not leave the old one behind.
          query: { 'replace-existing-checks': 'true' },
          headers: this.headerToken ? { 'x-consul-token': this.headerToken } : {},
          type: 'json',
          body,
          ctx,
          timeout,
        },
        (request, next) => {
          if (request.err) {
            request.err.response = request.res;
            return next(false, request.err);
          }
          next(false, undefined, [request.res]);
        },
      ),
    );
  }

  /** An error for a non-2xx answer, carrying Consul's own explanation (token removed, cut short, escaped). */
  statusError(method: string, path: string, answer: ConsulAnswer): ConsulError {
    const raw = answer.body;
    const text = Buffer.isBuffer(raw) ? raw.toString('utf8') : typeof raw === 'string' ? raw : raw === undefined ? '' : JSON.stringify(raw);
    // Consul's own words, on one line, control characters escaped, cut short, token removed.
    let detail = this.redact(text.trim().replace(/\s+/g, ' ')).replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    if (detail.length > MAX_ERROR_BODY_CHARS) detail = `${detail.slice(0, MAX_ERROR_BODY_CHARS)}… (${detail.length} chars)`;
    return new ConsulError(
      `consul ${method} ${path} at ${this.origin}: HTTP ${answer.status}${detail ? `: ${detail}` : ''}`,
      answer.status,
    );
  }
}
