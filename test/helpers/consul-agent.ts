import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as http from 'node:http';
import { join } from 'node:path';
import { freePort, lineKeeper, toolPath, trackChild } from './processes';
import type { Instance, Resolver } from '../../src/resolver/types';

/** Where scripts/install-consul.sh puts the binary. */
export const CONSUL_BIN = toolPath('consul', 'usr', 'bin', 'consul');

/** A dev agent elects itself in about two seconds; far beyond that it is not going to. */
const LEADER_TIMEOUT_MS = 20_000;
const LEADER_POLL_MS = 50;
/** Port races with other test processes are rare; a few fresh tries cover them. */
const START_ATTEMPTS = 3;
const LOG_LINES_KEPT = 200;

export interface ConsulAgentOptions {
  /** Turns ACLs on (default deny) with this as the master token. */
  aclMasterToken?: string;
  /** TTL of service records in Consul's DNS answers, e.g. "2s" (Consul's default is 0). */
  dnsServiceTtl?: string;
  /** Also serve the HTTP API over TLS with this certificate (PEM files). */
  tls?: { certFile: string; keyFile: string };
  /** More HCL configuration snippets. */
  hcl?: string[];
}

export interface ConsulAgent {
  /** "127.0.0.1:port" of the HTTP API. */
  readonly httpAddress: string;
  /** "127.0.0.1:port" of the DNS interface (UDP and TCP). */
  readonly dnsAddress: string;
  readonly httpPort: number;
  readonly dnsPort: number;
  /** "127.0.0.1:port" of the HTTPS API, when started with `tls`. */
  readonly httpsAddress: string | undefined;
  /** Ends the agent gracefully and waits for it to exit. */
  stop(): Promise<void>;
  /** Ends the agent with SIGKILL (a crash) and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts the agent again on the same ports and waits for a leader. A dev agent starts empty. */
  restart(): Promise<void>;
  /** Whether the agent process is running. */
  running(): boolean;
  /** The agent's recent output, for failure messages. */
  logs(): string;
}

function getText(port: number, path: string, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = token ? { 'x-consul-token': token } : {};
    const req = http.get({ host: '127.0.0.1', port, path, headers, agent: false, timeout: 2_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/**
 * Starts a real `consul agent -dev` on loopback with ports chosen by the OS, so test files can run
 * side by side. Resolves once the agent has a leader.
 */
export async function startConsul(options: ConsulAgentOptions = {}): Promise<ConsulAgent> {
  if (!existsSync(CONSUL_BIN)) {
    throw new Error(`no Consul binary at ${CONSUL_BIN}: run "bash scripts/install-consul.sh" first`);
  }
  const hcl = ['disable_update_check = true', ...(options.hcl ?? [])];
  if (options.dnsServiceTtl) hcl.push(`dns_config { service_ttl { "*" = "${options.dnsServiceTtl}" } }`);
  if (options.aclMasterToken) {
    hcl.push(
      `acl { enabled = true, default_policy = "deny", enable_token_persistence = false, tokens { master = "${options.aclMasterToken}", agent = "${options.aclMasterToken}" } }`,
    );
  }

  let lastError: Error | undefined;
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    const taken = new Set<number>();
    const ports = {
      http: await freePort(false, taken),
      dns: await freePort(true, taken),
      serfLan: await freePort(true, taken),
      server: await freePort(false, taken),
      https: options.tls ? await freePort(false, taken) : undefined,
    };
    const config = options.tls
      ? [...hcl, `ports { https = ${ports.https} }`, `cert_file = ${JSON.stringify(options.tls.certFile)}`, `key_file = ${JSON.stringify(options.tls.keyFile)}`]
      : hcl;
    const agent = createAgent(ports, config, options.aclMasterToken);
    try {
      await agent.begin();
      return agent.handle;
    } catch (error) {
      lastError = error as Error;
      await agent.handle.kill();
    }
  }
  throw lastError ?? new Error('Consul agent did not start');
}

function createAgent(ports: { http: number; dns: number; serfLan: number; server: number; https?: number }, hcl: string[], aclToken?: string) {
  const args = [
    'agent',
    '-dev',
    '-client=127.0.0.1',
    '-bind=127.0.0.1',
    `-http-port=${ports.http}`,
    `-dns-port=${ports.dns}`,
    '-grpc-port=-1',
    `-serf-lan-port=${ports.serfLan}`,
    '-serf-wan-port=-1',
    `-server-port=${ports.server}`,
    '-log-level=warn',
    ...hcl.flatMap((snippet) => ['-hcl', snippet]),
  ];
  const { lines, keep } = lineKeeper(LOG_LINES_KEPT);
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const spawnAgent = () => {
    const proc = spawn(CONSUL_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    trackChild(proc);
    exited = new Promise<void>((resolve) => {
      proc.once('exit', () => {
        if (child === proc) child = undefined;
        resolve();
      });
    });
  };

  const waitForLeader = async () => {
    const deadline = Date.now() + LEADER_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (!child) throw new Error(`Consul agent exited while starting:\n${lines.slice(-30).join('\n')}`);
      try {
        const { status, body } = await getText(ports.http, '/v1/status/leader');
        // With ACLs on, the master token exists only once the new leader has set ACLs up.
        if (status === 200 && body.length > 2 && body !== '""' && (!aclToken || (await getText(ports.http, '/v1/acl/token/self', aclToken)).status === 200)) return;
      } catch {
        // Not listening yet.
      }
      await new Promise((resolve) => setTimeout(resolve, LEADER_POLL_MS));
    }
    throw new Error(`Consul agent elected no leader within ${LEADER_TIMEOUT_MS} ms:\n${lines.slice(-30).join('\n')}`);
  };

  const end = async (signal: NodeJS.Signals) => {
    const proc = child;
    if (!proc) return;
    // Held while waiting, or a test with nothing else pending would end before the agent has.
    proc.ref();
    proc.kill(signal);
    await exited;
  };

  const handle: ConsulAgent = {
    httpAddress: `127.0.0.1:${ports.http}`,
    dnsAddress: `127.0.0.1:${ports.dns}`,
    httpPort: ports.http,
    dnsPort: ports.dns,
    httpsAddress: ports.https === undefined ? undefined : `127.0.0.1:${ports.https}`,
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
    restart: async () => {
      await end('SIGKILL');
      spawnAgent();
      await waitForLeader();
    },
    running: () => child !== undefined,
    logs: () => lines.join('\n'),
  };

  return {
    handle,
    begin: async () => {
      spawnAgent();
      await waitForLeader();
    },
  };
}

/** What a watch delivered, with the time (ms since epoch) of each event. */
export interface WatchRecord {
  readonly updates: { at: number; instances: Instance[] }[];
  readonly errors: { at: number; error: Error }[];
  /** The last list delivered. */
  latest(): Instance[] | undefined;
  /** The first update at or after `since` (default: now) that satisfies `predicate`, waiting for it if need be. */
  waitForUpdate(
    predicate: (instances: Instance[]) => boolean,
    options?: { timeoutMs?: number; since?: number },
  ): Promise<{ at: number; instances: Instance[] }>;
  /** The first error at or after `since` (default: now) that satisfies `predicate`. */
  waitForError(predicate?: (error: Error) => boolean, options?: { timeoutMs?: number; since?: number }): Promise<{ at: number; error: Error }>;
  stop(): void;
}

const DEFAULT_WAIT_MS = 10_000;

/** Watches `service` and records every update and error, for tests to wait on and inspect. */
export function recordWatch(resolver: Resolver, service: string): WatchRecord {
  const updates: { at: number; instances: Instance[] }[] = [];
  const errors: { at: number; error: Error }[] = [];
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const waiter of [...waiters]) waiter();
  };
  const stop = resolver.watch(service, {
    onUpdate(instances) {
      updates.push({ at: Date.now(), instances });
      wake();
    },
    onError(error) {
      errors.push({ at: Date.now(), error });
      wake();
    },
  });

  function waitFor<T extends { at: number }>(list: T[], test: (item: T) => boolean, timeoutMs: number, since: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = list.find((item) => item.at >= since && test(item));
        if (!found) return false;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        const last = updates.at(-1);
        const lastError = errors.at(-1);
        reject(
          new Error(
            `no ${what} for "${service}" within ${timeoutMs} ms; last list: ${JSON.stringify(last?.instances)}; last error: ${lastError?.error.message}`,
          ),
        );
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  }

  return {
    updates,
    errors,
    latest: () => updates.at(-1)?.instances,
    waitForUpdate: (predicate, options = {}) =>
      waitFor(updates, (u) => predicate(u.instances), options.timeoutMs ?? DEFAULT_WAIT_MS, options.since ?? Date.now(), 'matching update'),
    waitForError: (predicate = () => true, options = {}) =>
      waitFor(errors, (e) => predicate(e.error), options.timeoutMs ?? DEFAULT_WAIT_MS, options.since ?? Date.now(), 'matching error'),
    stop,
  };
}

/** Raw access to a Consul agent's HTTP API, for tests that set Consul up the way an operator would. */
export class ConsulApi {
  private readonly origin: string;
  constructor(options: { address: string }) {
    this.origin = `http://${options.address}`;
  }

  async request(method: string, path: string, request: { body?: unknown } = {}): Promise<{ status: number; body: string }> {
    const response = await fetch(`${this.origin}${path}`, {
      method,
      headers: request.body === undefined ? undefined : { 'content-type': 'application/json' },
      body: request.body === undefined ? undefined : JSON.stringify(request.body),
    });
    return { status: response.status, body: await response.text() };
  }

  /** Nothing to release (fetch keeps no socket a test must close); kept for symmetry with clients. */
  close(): void {}
}
