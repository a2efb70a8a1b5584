// Three Greeter instances register themselves in a real etcd; one client finds them with an
// etcd:/// target and follows etcd as instances leave, crash and join. A second client reads the
// same cluster the way a Go service's registrations are laid out (grpc-go naming endpoints).
//
//   npm run example:etcd        (installs etcd into .tools/ if needed, then runs this file)
//
// The example starts its own single-member etcd on a free loopback port, with its data in a
// temporary folder, and removes both at the end.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Etcd3 } from 'etcd3';
import { createClient } from 'grpc-lb-kit';

const definition = protoLoader.loadSync(join(__dirname, '..', 'proto', 'greeter.proto'));
const { demo } = grpc.loadPackageDefinition(definition) as any;
const ETCD = process.env.ETCD_BIN ?? join(__dirname, '..', '..', '.tools', 'etcd', 'usr', 'bin', 'etcd');

interface HelloReply {
  message: string;
  instance: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A single-member etcd on loopback; resolves once its /health says so. */
async function startEtcd(): Promise<{ endpoint: string; stop(): Promise<void> }> {
  if (!existsSync(ETCD)) throw new Error(`no etcd at ${ETCD}: run "bash scripts/install-etcd.sh" (or set ETCD_BIN)`);
  const [client, peer, metrics] = [await freePort(), await freePort(), await freePort()];
  const dataDir = mkdtempSync(join(tmpdir(), 'etcd-example-'));
  const etcd = spawn(ETCD, [
    `--data-dir=${dataDir}`,
    `--listen-client-urls=http://127.0.0.1:${client}`,
    `--advertise-client-urls=http://127.0.0.1:${client}`,
    `--listen-peer-urls=http://127.0.0.1:${peer}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
    `--initial-cluster=default=http://127.0.0.1:${peer}`,
    `--listen-metrics-urls=http://127.0.0.1:${metrics}`,
    '--logger=zap',
    '--log-level=error',
  ], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => etcd.once('exit', () => resolve()));
  const healthy = () =>
    new Promise<boolean>((resolve) =>
      http
        .get({ host: '127.0.0.1', port: metrics, path: '/health', timeout: 1_000 }, (res) => {
          let body = '';
          res.on('data', (chunk) => (body += chunk));
          res.on('end', () => resolve(/"health":\s*"true"/.test(body)));
        })
        .on('error', () => resolve(false)),
    );
  for (const until = Date.now() + 15_000; !(await healthy()); await sleep(50)) {
    if (Date.now() > until || etcd.exitCode !== null) throw new Error('etcd did not become healthy');
  }
  return {
    endpoint: `127.0.0.1:${client}`,
    stop: async () => {
      etcd.kill('SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

interface Running {
  name: string;
  process: ChildProcess;
  exited: Promise<void>;
}

async function startInstance(name: string, weight: number): Promise<Running> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'service.ts'), name, String(weight)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', () => resolve());
    child.once('exit', (code) => reject(new Error(`${name} exited with code ${code} before it was ready`)));
  });
  return { name, process: child, exited };
}

function show(title: string, counts: Record<string, number>, failures: number): void {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  console.log(`\n${title}`);
  for (const name of Object.keys(counts).sort()) {
    console.log(`  ${name.padEnd(10)} ${String(counts[name]).padStart(5)}  ${'█'.repeat(Math.round((40 * counts[name]) / total))}`);
  }
  console.log(`  failed calls: ${failures}`);
}

async function main(): Promise<void> {
  const etcd = await startEtcd();
  process.env.ETCD_ENDPOINTS = etcd.endpoint;
  console.log(`etcd on ${etcd.endpoint}`);
  const instances = [await startInstance('greeter-a', 1), await startInstance('greeter-b', 1), await startInstance('greeter-c', 2)];
  console.log('three instances registered with weights a=1, b=1, c=2 under /services/greeter/');

  // The one line that changes in existing code:
  //   const client = new demo.Greeter('10.0.0.7:50051', grpc.credentials.createInsecure());
  const client = createClient(demo.Greeter, { target: `etcd://${etcd.endpoint}/greeter` });

  const log: { instance: string; at: number }[] = [];
  let failures = 0;
  let running = true;
  const caller = async (id: number) => {
    for (let i = 0; running; i++) {
      try {
        const reply = (await client.async.SayHello({ name: `caller ${id}.${i}` })) as HelloReply;
        log.push({ instance: reply.instance, at: Date.now() });
      } catch {
        failures++;
      }
    }
  };
  const callers = Array.from({ length: 8 }, (_, id) => caller(id));
  const phase = async (title: string, ms: number) => {
    const from = Date.now();
    const failedBefore = failures;
    await sleep(ms);
    const counts: Record<string, number> = {};
    for (const call of log) if (call.at >= from) counts[call.instance] = (counts[call.instance] ?? 0) + 1;
    show(title, counts, failures - failedBefore);
  };

  await sleep(500); // the client connects to all three
  await phase('weights 1:1:2 from etcd', 1_000);

  const leaving = instances[1];
  const signalledAt = Date.now();
  leaving.process.kill('SIGTERM');
  await phase('greeter-b got SIGTERM: it revoked its lease (its key left etcd at once), then stopped', 1_000);
  const last = Math.max(...log.filter((call) => call.instance === leaving.name).map((call) => call.at));
  console.log(`  greeter-b answered its last call ${last - signalledAt} ms after SIGTERM; it stayed up for its 500 ms drain`);
  await leaving.exited;

  const crashed = instances[0];
  const failedBeforeCrash = failures;
  crashed.process.kill('SIGKILL');
  const crashedAt = Date.now();
  await crashed.exited;
  const kv = new Etcd3({ hosts: `http://${etcd.endpoint}` });
  while ((await kv.getAll().prefix('/services/greeter/').keys()).length > 1) await sleep(50);
  console.log(`\ngreeter-a was killed with SIGKILL: its key left etcd when its 3 s lease expired, ${Date.now() - crashedAt} ms later`);
  console.log(`  meanwhile the client routed around the dead connection; failed calls: ${failures - failedBeforeCrash} (those in flight on it when it died; retry() replays such calls)`);

  instances.push(await startInstance('greeter-d', 1));
  await phase('greeter-d registered: the watch brought it to the client within milliseconds', 1_000);

  // A Go service registered through go.etcd.io/etcd/client/v3/naming/endpoints writes this:
  await kv.put('go-services/greeter/instance-1').value(JSON.stringify({ Op: 0, Addr: await addressOf(kv, 'greeter-d'), Metadata: null }));
  const goClient = createClient(demo.Greeter, { target: `etcd://${etcd.endpoint}/go-services/greeter?format=grpc-go` });
  const reply = (await goClient.async.SayHello({ name: 'from the grpc-go layout' })) as HelloReply;
  console.log(`\na key in grpc-go's layout (go-services/greeter/instance-1) resolved and answered: "${reply.message}" from ${reply.instance}`);
  goClient.close();

  running = false;
  await Promise.all(callers);
  client.close();
  kv.close();
  for (const instance of instances) instance.process.kill('SIGTERM');
  await Promise.all(instances.map((instance) => instance.exited));
  await etcd.stop();
}

/** The address greeter `name` registered, read from its value under /services/greeter/. */
async function addressOf(kv: Etcd3, name: string): Promise<string> {
  const values = await kv.getAll().prefix('/services/greeter/').strings();
  for (const text of Object.values(values)) {
    const value = JSON.parse(text) as { address: string; meta: Record<string, string> };
    if (value.meta.instance === name) return value.address;
  }
  throw new Error(`${name} is not registered`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
