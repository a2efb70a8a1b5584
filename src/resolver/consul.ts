import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { isIP } from 'node:net';
import { formatAddress, parseAddress } from './address';
import { registerResolverScheme } from './target';
import type { Instance, Resolver, ResolverListener } from './types';
import { watchReporter } from './listener';

// The HTTP calls to Consul are made here with node:http rather than through the `consul` npm
// client: that client drops `Weights` when registering, cannot abort an in-flight blocking query
// (there is no AbortSignal, so stopping a watch would leave a socket open for up to `wait`), and
// its Watch throws from the process when nobody listens for 'error'. node:http rather than
// fetch because fetch in Node 20 cannot be given a CA without the undici package's dispatcher.

/** Consul's own default agent address. */
export const DEFAULT_CONSUL_ADDRESS = '127.0.0.1:8500';
/** Bound on a request that does not block (register, deregister, the first read of a watch). */
export const DEFAULT_CONSUL_REQUEST_TIMEOUT_MS = 10_000;
/**
 * How long one blocking query may wait for a change. Shorter than Consul's 5 minute default so a
 * connection silently dropped by a middlebox is noticed within a minute.
 */
export const DEFAULT_CONSUL_WAIT_MS = 55_000;
/** Added to `wait` (plus the wait/16 jitter Consul adds) before a blocking query counts as lost. */
const BLOCKING_TIMEOUT_MARGIN_MS = 5_000;
/** First delay after a failed request; doubles per consecutive failure. */
export const DEFAULT_CONSUL_BACKOFF_INITIAL_MS = 250;
/** Cap on the error backoff: a restarted agent is found again within this. */
export const DEFAULT_CONSUL_BACKOFF_MAX_MS = 5_000;
/**
 * Minimum time between the starts of two queries whose answer brought no new index (the index
 * stood still or went backwards): such answers come back at once and would otherwise spin.
 */
export const DEFAULT_CONSUL_MIN_QUIET_INTERVAL_MS = 1_000;
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
   * "host:port" or "http(s)://host:port". Defaults to CONSUL_HTTP_ADDR, else "127.0.0.1:8500".
   * No credentials here: the token goes in `token`.
   */
  address?: string;
  /**
   * ACL token, sent only in the X-Consul-Token header: never in a URL, an error or a log line.
   * Defaults to CONSUL_HTTP_TOKEN.
   */
  token?: string;
  /** HTTPS to the agent; `true` uses the system CAs (or CONSUL_CACERT). Implied by an https:// address. */
  tls?: boolean | ConsulTlsOptions;
  /** Bound on each request that does not block. */
  requestTimeoutMs?: number;
}

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
  /** How long each blocking query waits for a change. */
  waitMs?: number;
  /** Error backoff: doubles from `initialMs` up to `maxMs`, each delay jittered between half and all of it. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Minimum spacing of queries that returned without a new index. */
  minQuietIntervalMs?: number;
  /** Source of randomness for backoff jitter, in [0, 1). */
  random?: () => number;
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

export interface ConsulResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

export interface ConsulRequest {
  query?: Record<string, string | readonly string[] | undefined>;
  body?: unknown;
  signal?: AbortSignal;
  timeoutMs?: number;
}

interface ResolvedConnection {
  readonly secure: boolean;
  readonly host: string;
  readonly port: number;
  readonly token: string | undefined;
  readonly tls: ConsulTlsOptions | undefined;
  readonly requestTimeoutMs: number;
}

function positiveNumber(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(`${field} must be a finite number > 0, got ${JSON.stringify(value)}`);
  }
  return value;
}

function resolveConnection(options: ConsulConnectionOptions, where: string): ResolvedConnection {
  if (options === null || typeof options !== 'object') throw new TypeError(`${where}: options must be an object`);
  const { address = process.env.CONSUL_HTTP_ADDR || DEFAULT_CONSUL_ADDRESS, token = process.env.CONSUL_HTTP_TOKEN || undefined } = options;
  if (typeof address !== 'string' || address.trim().length === 0) {
    throw new TypeError(`${where}: address must be a non-empty "host:port" or "http(s)://host:port" string`);
  }
  if (token !== undefined && (typeof token !== 'string' || token.length === 0 || /[\r\n]/.test(token))) {
    // The value is deliberately not echoed: it is a secret.
    throw new TypeError(`${where}: token must be a non-empty single-line string`);
  }
  let text = address.trim();
  let secure = false;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  if (scheme) {
    const name = scheme[1].toLowerCase();
    if (name !== 'http' && name !== 'https') throw new TypeError(`${where}: address scheme must be http or https, got "${name}"`);
    secure = name === 'https';
    text = text.slice(scheme[0].length).replace(/\/+$/, '');
  }
  if (text.includes('@')) throw new TypeError(`${where}: address must not contain credentials; pass the ACL token as options.token`);
  if (/[/?#]/.test(text)) throw new TypeError(`${where}: address "${address}" must be just a host and port, without a path or query`);
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
  return {
    secure,
    host: parsed.host,
    port: parsed.port,
    token,
    tls,
    requestTimeoutMs: positiveNumber(options.requestTimeoutMs, `${where}: requestTimeoutMs`, DEFAULT_CONSUL_REQUEST_TIMEOUT_MS),
  };
}

/**
 * A minimal Consul HTTP API client shared by the resolver and the registry. Its keep-alive agent
 * is created on first use and destroyed by close(), so an idle client holds no socket.
 */
export class ConsulHttp {
  /** "http(s)://host:port", for messages. */
  readonly origin: string;
  private agent: http.Agent | undefined;
  private readonly connection: ResolvedConnection;

  constructor(options: ConsulConnectionOptions, where = 'consul') {
    this.connection = resolveConnection(options, where);
    const { secure, host, port } = this.connection;
    this.origin = `${secure ? 'https' : 'http'}://${formatAddress(host, port)}`;
  }

  /** Removes the token from text that came from elsewhere (a response body, a system error). */
  redact(text: string): string {
    const { token } = this.connection;
    return token ? text.split(token).join('[redacted]') : text;
  }

  /** Closes idle and in-flight connections; the next request opens a new one. */
  close(): void {
    this.agent?.destroy();
    this.agent = undefined;
  }

  request(method: string, path: string, request: ConsulRequest = {}): Promise<ConsulResponse> {
    const { secure, host, port, token, tls, requestTimeoutMs } = this.connection;
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(request.query ?? {})) {
      if (value === undefined) continue;
      for (const item of typeof value === 'string' ? [value] : value) search.append(key, item);
    }
    const query = search.toString();
    const what = `consul ${method} ${path} at ${this.origin}`;
    const headers: http.OutgoingHttpHeaders = { accept: 'application/json' };
    if (token) headers['x-consul-token'] = token;
    let payload: Buffer | undefined;
    if (request.body !== undefined) {
      payload = Buffer.from(JSON.stringify(request.body));
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    this.agent ??= secure
      ? new https.Agent({ keepAlive: true, ca: tls?.ca, cert: tls?.cert, key: tls?.key, servername: tls?.servername })
      : new http.Agent({ keepAlive: true });
    const agent = this.agent;
    const timeoutMs = request.timeoutMs ?? requestTimeoutMs;

    return new Promise<ConsulResponse>((resolve, reject) => {
      let settled = false;
      const finish = (error: Error | undefined, response?: ConsulResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        request.signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve(response!);
      };
      const fail = (reason: string) => new ConsulError(`${what}: ${this.redact(reason)}`);
      const onAbort = () => {
        req.destroy();
        finish(fail('aborted'));
      };
      const req = (secure ? https : http).request({
        host,
        port,
        method,
        path: query ? `${path}?${query}` : path,
        headers,
        agent,
      });
      const timer = setTimeout(() => {
        req.destroy();
        finish(fail(`no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      if (request.signal?.aborted) return onAbort();
      request.signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (error: NodeJS.ErrnoException) => finish(fail(error.code ? `${error.code} ${error.message}` : error.message)));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) {
            req.destroy();
            finish(fail(`answer larger than ${MAX_RESPONSE_BYTES} bytes`));
          } else {
            chunks.push(chunk);
          }
        });
        res.on('error', (error) => finish(fail(error.message)));
        res.on('aborted', () => finish(fail('connection closed mid-answer')));
        res.on('end', () => finish(undefined, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      });
      req.end(payload);
    });
  }

  /** An error for a non-2xx answer, carrying Consul's own explanation (token removed, cut short). */
  statusError(method: string, path: string, response: ConsulResponse): ConsulError {
    let detail = response.body.trim().replace(/\s+/g, ' ');
    if (detail.length > MAX_ERROR_BODY_CHARS) detail = `${detail.slice(0, MAX_ERROR_BODY_CHARS)}…`;
    return new ConsulError(
      `consul ${method} ${path} at ${this.origin}: HTTP ${response.status}${detail ? `: ${this.redact(detail)}` : ''}`,
      response.status,
    );
  }
}

type HealthStatus = 'passing' | 'warning' | 'critical';

/** The worst status among an entry's checks (node checks included, as Consul's own `passing` filter does). */
function aggregateStatus(checks: unknown): HealthStatus {
  if (!Array.isArray(checks)) return 'passing';
  let status: HealthStatus = 'passing';
  for (const check of checks) {
    const value = check && typeof check === 'object' ? (check as { Status?: unknown }).Status : undefined;
    if (value === 'passing') continue;
    if (value === 'warning') status = 'warning';
    // Anything else ("critical", "maintenance", a status this code does not know) keeps the
    // instance out: sending calls to an instance of unknown health is the unsafe side.
    else return 'critical';
  }
  return status;
}

/**
 * Turns a `/v1/health/service/<name>` answer into instances. Consul tags map to keys with an
 * empty value (tag "v1" → tags["v1"] = ""), service meta to key/value pairs (meta wins when a
 * key is both). Instances whose weight for their health state is 0 are left out: that is how a
 * Consul operator says "no traffic while warning".
 */
export function consulHealthToInstances(entries: unknown, onlyPassing: boolean): { instances: Instance[]; problems: string[] } {
  if (!Array.isArray(entries)) throw new TypeError(`expected a JSON array of health entries, got ${entries === null ? 'null' : typeof entries}`);
  const instances: Instance[] = [];
  const problems: string[] = [];
  for (const entry of entries as unknown[]) {
    const service = entry && typeof entry === 'object' ? (entry as { Service?: unknown }).Service : undefined;
    if (!service || typeof service !== 'object') {
      problems.push('an entry without a Service object');
      continue;
    }
    const s = service as {
      ID?: unknown;
      Address?: unknown;
      Port?: unknown;
      Tags?: unknown;
      Meta?: unknown;
      Weights?: { Passing?: unknown; Warning?: unknown } | null;
    };
    const id = typeof s.ID === 'string' ? s.ID : undefined;
    const label = id ? `instance "${id}"` : 'an instance';
    const status = aggregateStatus((entry as { Checks?: unknown }).Checks);
    if (status === 'critical' || (status === 'warning' && onlyPassing)) continue;

    const node = (entry as { Node?: { Address?: unknown } | null }).Node;
    let host = typeof s.Address === 'string' && s.Address.length > 0 ? s.Address : typeof node?.Address === 'string' ? node.Address : '';
    if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
    if (!host) {
      problems.push(`${label} has no address and neither has its node`);
      continue;
    }
    if (typeof s.Port !== 'number' || !Number.isInteger(s.Port) || s.Port < 1 || s.Port > 65535) {
      problems.push(`${label} has port ${JSON.stringify(s.Port)}, expected 1-65535`);
      continue;
    }
    const address = formatAddress(host, s.Port);
    const checked = parseAddress(address);
    if (checked instanceof Error) {
      problems.push(`${label}: ${checked.message}`);
      continue;
    }
    // Agents older than Consul 1.2.3 send no Weights; Consul's own default is 1 for both states.
    const raw = s.Weights == null ? 1 : status === 'passing' ? s.Weights.Passing : s.Weights.Warning;
    const weight = raw === undefined ? 1 : raw;
    if (weight === 0) continue;
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) {
      problems.push(`${label} has weight ${JSON.stringify(weight)}, expected a number >= 0`);
      continue;
    }
    const tags: Record<string, string> = {};
    if (Array.isArray(s.Tags)) for (const tag of s.Tags) if (typeof tag === 'string') tags[tag] = '';
    if (s.Meta && typeof s.Meta === 'object') {
      for (const [key, value] of Object.entries(s.Meta as Record<string, unknown>)) if (typeof value === 'string') tags[key] = value;
    }
    instances.push(id === undefined ? { address, weight, tags } : { address, weight, tags, id });
  }
  instances.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : (a.id ?? '') < (b.id ?? '') ? -1 : 1));
  return { instances, problems };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

function nonEmptyString(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim().length === 0) throw new TypeError(`${field} must be a non-empty string, got ${JSON.stringify(value)}`);
  return value;
}

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
  const client = new ConsulHttp(options, where);
  const tags = options.tags;
  if (tags !== undefined) {
    if (!Array.isArray(tags)) throw new TypeError(`${where}: tags must be an array of strings`);
    tags.forEach((tag, i) => nonEmptyString(tag, `${where}: tags[${i}]`));
  }
  const dc = nonEmptyString(options.dc, `${where}: dc`);
  const near = nonEmptyString(options.near, `${where}: near`);
  const filter = nonEmptyString(options.filter, `${where}: filter`);
  for (const field of ['stale', 'onlyPassing'] as const) {
    if (options[field] !== undefined && typeof options[field] !== 'boolean') throw new TypeError(`${where}: ${field} must be a boolean`);
  }
  const stale = options.stale ?? true;
  const onlyPassing = options.onlyPassing ?? true;
  const waitMs = positiveNumber(options.waitMs, `${where}: waitMs`, DEFAULT_CONSUL_WAIT_MS);
  if (options.backoff !== undefined && (options.backoff === null || typeof options.backoff !== 'object')) {
    throw new TypeError(`${where}: backoff must be an object with initialMs/maxMs`);
  }
  const backoffInitialMs = positiveNumber(options.backoff?.initialMs, `${where}: backoff.initialMs`, DEFAULT_CONSUL_BACKOFF_INITIAL_MS);
  const backoffMaxMs = positiveNumber(options.backoff?.maxMs, `${where}: backoff.maxMs`, Math.max(DEFAULT_CONSUL_BACKOFF_MAX_MS, backoffInitialMs));
  if (backoffMaxMs < backoffInitialMs) throw new TypeError(`${where}: backoff.maxMs must be >= backoff.initialMs`);
  const minQuietIntervalMs = positiveNumber(options.minQuietIntervalMs, `${where}: minQuietIntervalMs`, DEFAULT_CONSUL_MIN_QUIET_INTERVAL_MS);
  const random = options.random ?? Math.random;
  if (typeof random !== 'function') throw new TypeError(`${where}: random must be a function returning [0, 1)`);

  const baseQuery: Record<string, string | readonly string[] | undefined> = {
    passing: onlyPassing ? '1' : undefined,
    tag: tags && tags.length > 0 ? tags : undefined,
    dc,
    near,
    filter,
    stale: stale ? '' : undefined,
  };
  const blockingTimeoutMs = waitMs + waitMs / 16 + BLOCKING_TIMEOUT_MARGIN_MS;
  let active = 0;

  function watch(service: string, listener: ResolverListener): () => void {
    const controller = new AbortController();
    const { signal } = controller;
    const { update, report } = watchReporter(listener, signal);
    if (typeof service !== 'string' || service.trim().length === 0 || /[\u0000-\u001f]/.test(service)) {
      queueMicrotask(() => report(new TypeError(`${where}: service name must be a non-empty string, got ${JSON.stringify(service)}`)));
      return () => controller.abort();
    }
    const path = `/v1/health/service/${encodeURIComponent(service)}`;
    const name = `"${service}" (${client.origin}${dc ? `, dc ${dc}` : ''})`;
    active++;

    const run = async () => {
      let index = 0;
      let failures = 0;
      let lastKey: string | undefined;
      let lastProblems = '';
      while (!signal.aborted) {
        const started = Date.now();
        let advanced = false;
        try {
          const blocking = index > 0;
          const response = await client.request('GET', path, {
            query: { ...baseQuery, index: blocking ? String(index) : undefined, wait: blocking ? `${waitMs}ms` : undefined },
            signal,
            timeoutMs: blocking ? blockingTimeoutMs : undefined,
          });
          if (signal.aborted) return;
          if (response.status !== 200) throw client.statusError('GET', path, response);
          const header = response.headers['x-consul-index'];
          const next = typeof header === 'string' && /^\d+$/.test(header) ? Number(header) : NaN;
          if (!Number.isSafeInteger(next)) {
            throw new ConsulError(`consul GET ${path} at ${client.origin}: answer without a valid X-Consul-Index header`);
          }
          let entries: unknown;
          try {
            entries = JSON.parse(response.body);
          } catch {
            throw new ConsulError(`consul GET ${path} at ${client.origin}: answer is not JSON (${response.body.length} bytes)`);
          }
          let converted: { instances: Instance[]; problems: string[] };
          try {
            converted = consulHealthToInstances(entries, onlyPassing);
          } catch (error) {
            throw new ConsulError(`consul GET ${path} at ${client.origin}: ${(error as Error).message}`);
          }
          failures = 0;
          // Consul's rules for blocking queries: an index that goes backwards (a restored or
          // replaced server) restarts from 0; an index below 1 would make every query return at
          // once, so it is raised to 1.
          advanced = next > index;
          index = next < index ? 0 : Math.max(next, 1);

          const problems = converted.problems.join('; ');
          if (problems && problems !== lastProblems) {
            report(new ConsulError(`consul: skipped unusable instances of ${name}: ${client.redact(problems)}`));
          }
          lastProblems = problems;
          const key = JSON.stringify(converted.instances);
          if (key !== lastKey) {
            lastKey = key;
            if (converted.instances.length === 0) {
              // Reported rather than delivered as an empty list: a stale list is better than
              // none, and an empty answer is more often a registry hiccup than a dead service.
              // The DNS resolver treats NXDOMAIN the same way.
              report(new ConsulError(`consul: no ${onlyPassing ? 'passing' : 'healthy'} instances of ${name}`));
            } else {
              update(converted.instances);
            }
          }
        } catch (error) {
          if (signal.aborted) return;
          failures++;
          // The agent may have restarted with a smaller index; blocking on the old one would
          // hide every change until Consul's index caught up with it.
          index = 0;
          // The next good answer is delivered even if unchanged, so the listener sees the recovery.
          lastKey = undefined;
          report(error);
          const delay = Math.min(backoffMaxMs, backoffInitialMs * 2 ** Math.min(failures - 1, 30));
          await sleep(delay / 2 + (delay / 2) * random(), signal);
          continue;
        }
        if (!advanced) {
          const wait = minQuietIntervalMs - (Date.now() - started);
          if (wait > 0) await sleep(wait, signal);
        }
      }
    };

    let stopped = false;
    run()
      .catch(report)
      .finally(() => {
        if (--active === 0) client.close();
      });
    return () => {
      if (stopped) return;
      stopped = true;
      controller.abort();
    };
  }

  return { watch };
}

const TARGET_PARAMS = new Set(['tag', 'dc', 'near', 'filter', 'stale', 'passing', 'tls']);

function booleanParam(value: string, name: string, text: string): boolean {
  if (/^(1|true|yes)$/i.test(value)) return true;
  if (/^(0|false|no)$/i.test(value)) return false;
  throw new TypeError(`target "${text}": ${name}=${value} is not a boolean (true/false)`);
}

/**
 * `consul://host:port/service?tag=v1&tag=v2&dc=dc1&near=_agent&filter=…&stale=false&passing=false&tls=true`
 * (every parameter optional; an empty authority means CONSUL_HTTP_ADDR or 127.0.0.1:8500). The
 * ACL token is never taken from a target: it comes from CONSUL_HTTP_TOKEN.
 */
registerResolverScheme('consul', (target) => {
  // Checked before anything echoes the target: a target carrying a token must not be repeated in
  // an error message, since messages end up in logs.
  if (target.query.has('token') || target.authority.includes('@')) {
    throw new TypeError(
      'consul target must not carry an ACL token ("token=" or "user@" in the target): targets end up in logs and errors. ' +
        'Pass it as consulResolver({ token }) or set the CONSUL_HTTP_TOKEN environment variable.',
    );
  }
  const { text, query } = target;
  for (const key of query.keys()) {
    if (!TARGET_PARAMS.has(key)) {
      throw new TypeError(`target "${text}": unknown parameter "${key}" (known: ${[...TARGET_PARAMS].join(', ')})`);
    }
  }
  const service = target.path;
  if (!service || service.includes('/')) {
    throw new TypeError(`target "${text}" must name one service: "consul://host:port/service-name?tag=…&dc=…"`);
  }
  const single = (name: string) => {
    const values = query.getAll(name);
    if (values.length > 1) throw new TypeError(`target "${text}": parameter "${name}" given ${values.length} times`);
    if (values.length === 1 && values[0].length === 0) throw new TypeError(`target "${text}": parameter "${name}" is empty`);
    return values[0];
  };
  const tags = query.getAll('tag');
  if (tags.some((tag) => tag.length === 0)) throw new TypeError(`target "${text}": an empty "tag=" parameter`);
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
