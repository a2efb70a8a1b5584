// Three Greeter instances register themselves in a real Consul agent; one client finds them with
// a consul:// target and follows Consul as instances leave and join.
//
//   npm run example:consul     (a `consul` binary on PATH, or once: bash scripts/install-consul.sh)
//
// With CONSUL_HTTP_ADDR set, the example uses that agent instead of starting its own.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createClient } from 'grpc-lb-kit';
import { startDevAgent } from './dev-agent';

const definition = protoLoader.loadSync(join(__dirname, '..', 'proto', 'greeter.proto'));
const { demo } = grpc.loadPackageDefinition(definition) as any;

interface HelloReply {
  message: string;
  instance: string;
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
  const given = process.env.CONSUL_HTTP_ADDR;
  const consul = given ? { httpAddress: given, stop: async () => {} } : await startDevAgent();
  // The instances read the agent's address from the environment, as Consul's own tools do.
  process.env.CONSUL_HTTP_ADDR = consul.httpAddress;
  console.log(`Consul agent on ${consul.httpAddress}`);
  const instances = [await startInstance('greeter-a', 1), await startInstance('greeter-b', 1), await startInstance('greeter-c', 2)];
  console.log('three instances registered with weights a=1, b=1, c=2');

  // The one line that changes in existing code:
  //   const client = new demo.Greeter('10.0.0.7:50051', grpc.credentials.createInsecure());
  const client = createClient(demo.Greeter, { target: `consul://${consul.httpAddress}/greeter` });

  // Steady traffic from eight callers for the rest of the run; each phase looks at its own slice.
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
    await new Promise((resolve) => setTimeout(resolve, ms));
    const counts: Record<string, number> = {};
    for (const call of log) if (call.at >= from) counts[call.instance] = (counts[call.instance] ?? 0) + 1;
    show(title, counts, failures - failedBefore);
  };

  await new Promise((resolve) => setTimeout(resolve, 1_500)); // health checks pass, the client connects
  await phase('weights 1:1:2 from Consul', 1_000);

  const leaving = instances[1];
  const signalledAt = Date.now();
  leaving.process.kill('SIGTERM');
  await phase('greeter-b got SIGTERM: it left Consul first, then stopped', 1_000);
  const last = Math.max(...log.filter((call) => call.instance === leaving.name).map((call) => call.at));
  console.log(`  greeter-b answered its last call ${last - signalledAt} ms after SIGTERM; it stayed up for its 500 ms drain`);
  await leaving.exited;

  instances.push(await startInstance('greeter-d', 1));
  await new Promise((resolve) => setTimeout(resolve, 1_500)); // its first health check
  await phase('greeter-d registered: it gets calls once its health check passes', 1_000);

  running = false;
  await Promise.all(callers);
  client.close();
  for (const instance of instances) instance.process.kill('SIGTERM');
  await Promise.all(instances.map((instance) => instance.exited));
  await consul.stop();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
