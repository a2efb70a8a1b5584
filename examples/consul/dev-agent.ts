// A throwaway Consul agent for the example: `consul agent -dev` on loopback with free ports, so the
// example needs no running Consul. Uses the `consul` binary on PATH, or CONSUL_BIN, or the one
// `bash scripts/install-consul.sh` puts in .tools/. Against a real agent, set CONSUL_HTTP_ADDR
// instead and this is not used.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** A dev agent elects itself in about two seconds. */
const LEADER_TIMEOUT_MS = 20_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function consulBinary(): string {
  if (process.env.CONSUL_BIN) return process.env.CONSUL_BIN;
  const installed = join(__dirname, '..', '..', '.tools', 'consul', 'usr', 'bin', 'consul');
  return existsSync(installed) ? installed : 'consul';
}

export interface DevAgent {
  readonly httpAddress: string;
  stop(): Promise<void>;
}

export async function startDevAgent(): Promise<DevAgent> {
  const [http, dns, serf, serfWan, server, grpc] = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  const ports = `ports { http = ${http}\n dns = ${dns}\n serf_lan = ${serf}\n serf_wan = ${serfWan}\n server = ${server}\n grpc = ${grpc} }`;
  const child = spawn(consulBinary(), ['agent', '-dev', '-bind=127.0.0.1', '-client=127.0.0.1', `-hcl=${ports}`], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', (error) => {
    console.error(`cannot start consul (${error.message}): put it on PATH, set CONSUL_BIN, or run bash scripts/install-consul.sh`);
    process.exit(1);
  });
  const httpAddress = `127.0.0.1:${http}`;
  const deadline = Date.now() + LEADER_TIMEOUT_MS;
  for (;;) {
    try {
      const leader = await (await fetch(`http://${httpAddress}/v1/status/leader`)).json();
      if (typeof leader === 'string' && leader.length > 0) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`consul agent on ${httpAddress} elected no leader within ${LEADER_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    httpAddress,
    stop: async () => {
      child.kill('SIGINT');
      await exited;
    },
  };
}
