import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, lineKeeper, toolPath, trackChild } from './processes';

/** Where scripts/install-etcd.sh puts the binary. */
export const ETCD_BIN = toolPath('etcd', 'usr', 'bin', 'etcd');

/** A single member is healthy in well under a second, a cluster elects within a few; far beyond that it will not. */
const HEALTH_TIMEOUT_MS = 20_000;
const HEALTH_POLL_MS = 50;
/** Port races with other test processes are rare; a few fresh tries cover them. */
const START_ATTEMPTS = 3;
const LOG_LINES_KEPT = 200;

export interface EtcdOptions {
  /** Cluster size (default 1). */
  members?: number;
  /** Serve clients over TLS with this certificate (PEM files); health stays on a plain metrics port. */
  tls?: { certFile: string; keyFile: string };
}

export interface EtcdMember {
  readonly name: string;
  /** "127.0.0.1:port" clients dial. */
  readonly clientAddress: string;
  /** Ends the member with SIGKILL and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts the member again on the same ports, keeping its data unless `wipe` (single-member clusters only). */
  start(options?: { wipe?: boolean }): Promise<void>;
  running(): boolean;
  /** Whether this member is the Raft leader now (from its metrics). */
  isLeader(): Promise<boolean>;
}

export interface EtcdCluster {
  readonly members: readonly EtcdMember[];
  /** Every member's client address, comma-separated, as etcdResolver's `hosts` takes them. */
  readonly hosts: string;
  /** Resolves when every running member reports healthy (it has a leader). */
  waitHealthy(): Promise<void>;
  /** The current leader, waiting for one. */
  leader(): Promise<EtcdMember>;
  /** Ends every member (SIGKILL: their data goes too, and a member ending gracefully waits for its peers) and removes their data. */
  stop(): Promise<void>;
  logs(): string;
}

function getText(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 2_000 }, (res) => {
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

/** Starts a real etcd (one member or a cluster) on loopback ports chosen by the OS; resolves once it is healthy. */
export async function startEtcd(options: EtcdOptions = {}): Promise<EtcdCluster> {
  if (!existsSync(ETCD_BIN)) throw new Error(`no etcd binary at ${ETCD_BIN}: run "bash scripts/install-etcd.sh" first`);
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    const cluster = await createCluster(options);
    try {
      await cluster.waitHealthy();
      return cluster;
    } catch (error) {
      lastError = error as Error;
      await cluster.stop();
    }
  }
  throw lastError ?? new Error('etcd did not start');
}

async function createCluster(options: EtcdOptions): Promise<EtcdCluster> {
  const size = options.members ?? 1;
  const taken = new Set<number>();
  const specs: { name: string; client: number; peer: number; metrics: number; dataDir: string }[] = [];
  for (let i = 0; i < size; i++) {
    specs.push({
      name: `m${i}`,
      client: await freePort(false, taken),
      peer: await freePort(false, taken),
      metrics: await freePort(false, taken),
      dataDir: mkdtempSync(join(tmpdir(), 'lbkit-etcd-')),
    });
  }
  const token = `lbkit-${process.pid}-${specs[0].client}`;
  const initialCluster = specs.map((s) => `${s.name}=http://127.0.0.1:${s.peer}`).join(',');
  const clientScheme = options.tls ? 'https' : 'http';
  const { lines, keep } = lineKeeper(LOG_LINES_KEPT);

  const members = specs.map((spec) => {
    let child: ChildProcess | undefined;
    let exited: Promise<void> = Promise.resolve();
    const args = [
      `--name=${spec.name}`,
      `--data-dir=${spec.dataDir}`,
      `--listen-client-urls=${clientScheme}://127.0.0.1:${spec.client}`,
      `--advertise-client-urls=${clientScheme}://127.0.0.1:${spec.client}`,
      `--listen-peer-urls=http://127.0.0.1:${spec.peer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${spec.peer}`,
      `--listen-metrics-urls=http://127.0.0.1:${spec.metrics}`,
      `--initial-cluster=${initialCluster}`,
      `--initial-cluster-token=${token}`,
      '--initial-cluster-state=new',
      '--logger=zap',
      '--log-outputs=stderr',
      '--log-level=warn',
      ...(options.tls ? [`--cert-file=${options.tls.certFile}`, `--key-file=${options.tls.keyFile}`] : []),
    ];
    const member: EtcdMember & { spawn(): void; end(signal: NodeJS.Signals): Promise<void>; metrics: number } = {
      name: spec.name,
      clientAddress: `127.0.0.1:${spec.client}`,
      metrics: spec.metrics,
      spawn() {
        const proc = spawn(ETCD_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
        child = proc;
        proc.stdout!.on('data', keep);
        proc.stderr!.on('data', keep);
        trackChild(proc);
        exited = new Promise<void>((resolve) =>
          proc.once('exit', () => {
            if (child === proc) child = undefined;
            resolve();
          }),
        );
      },
      async end(signal) {
        const proc = child;
        if (!proc) return;
        // Held while waiting, or a test with nothing else pending would end before etcd has.
        proc.ref();
        proc.kill(signal);
        await exited;
      },
      kill: () => member.end('SIGKILL'),
      async start(startOptions = {}) {
        await member.end('SIGKILL');
        if (startOptions.wipe) {
          if (size > 1) throw new Error('only a single-member etcd can be wiped and restarted');
          rmSync(spec.dataDir, { recursive: true, force: true });
        }
        member.spawn();
        await waitHealthy([member]);
      },
      running: () => child !== undefined,
      async isLeader() {
        try {
          const { body } = await getText(spec.metrics, '/metrics');
          return /^etcd_server_is_leader 1$/m.test(body);
        } catch {
          return false;
        }
      },
    };
    return member;
  });

  const waitHealthy = async (which: typeof members) => {
    const deadline = Date.now() + HEALTH_TIMEOUT_MS;
    for (const member of which) {
      while (true) {
        if (!member.running()) throw new Error(`etcd member ${member.name} exited while starting:\n${lines.slice(-30).join('\n')}`);
        try {
          const { status, body } = await getText(member.metrics, '/health');
          if (status === 200 && /"health":\s*"true"/.test(body)) break;
        } catch {
          // Not listening yet.
        }
        if (Date.now() > deadline) throw new Error(`etcd member ${member.name} not healthy within ${HEALTH_TIMEOUT_MS} ms:\n${lines.slice(-30).join('\n')}`);
        await new Promise((resolve) => setTimeout(resolve, HEALTH_POLL_MS));
      }
    }
  };

  for (const member of members) member.spawn();
  return {
    members,
    hosts: members.map((m) => m.clientAddress).join(','),
    waitHealthy: () => waitHealthy(members.filter((m) => m.running())),
    async leader() {
      const deadline = Date.now() + HEALTH_TIMEOUT_MS;
      while (Date.now() < deadline) {
        for (const member of members) if (member.running() && (await member.isLeader())) return member;
        await new Promise((resolve) => setTimeout(resolve, HEALTH_POLL_MS));
      }
      throw new Error(`no etcd leader within ${HEALTH_TIMEOUT_MS} ms:\n${lines.slice(-30).join('\n')}`);
    },
    async stop() {
      await Promise.all(members.map((m) => m.end('SIGKILL')));
      for (const spec of specs) rmSync(spec.dataDir, { recursive: true, force: true });
    },
    logs: () => lines.join('\n'),
  };
}
