import type { ClientRequest, IncomingHttpHeaders, IncomingMessage, RequestOptions } from 'node:http';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import type Consul from 'consul';
import { checkOptionsObject, durationOption } from '../core/options';
import { redactSecrets } from '../core/text';
import { formatAddress } from './address';
import { checkToken, ConsulError, resolveConnection, type ConsulConnectionOptions } from './consul-connection';

export { ConsulError, isConsulError, type ConsulConnectionOptions, type ConsulTlsOptions } from './consul-connection';

// Consul is reached through the `consul` package (a user may hand in their own client). What this
// module adds around it: an AbortSignal for blocking queries (through the package's cancel
// context), a bound on answer bodies, the token kept out of every message, and errors that name
// the agent and the request.

/** Bound on a request that does not block (register, deregister, the first read of a watch). */
const DEFAULT_CONSUL_REQUEST_TIMEOUT_MS = 10_000;
/** A health list of thousands of instances is a few MiB; far beyond that is not Consul talking. */
const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;
/** Consul error bodies are short; a long one is cut so it cannot flood a log line. */
const MAX_ERROR_BODY_CHARS = 300;

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
    checkOptionsObject(where, options, false);
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
