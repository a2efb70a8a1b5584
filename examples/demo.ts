// A self-contained tour: three Greeter instances on loopback, one client that finds them through
// an in-memory registry, and what happens to the traffic as the registry changes.
//
//   npm run demo
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { join } from 'node:path';
import { consistentHash, createClient, leastConnection, memoryResolver, peakEwma, weightedRoundRobin, type Balancer } from 'grpc-lb-kit';

const definition = protoLoader.loadSync(join(__dirname, 'proto', 'greeter.proto'));
const { demo } = grpc.loadPackageDefinition(definition) as any;

interface HelloReply {
  message: string;
  instance: string;
}

async function startInstance(name: string, delayMs = 0): Promise<{ address: string; server: grpc.Server }> {
  const server = new grpc.Server();
  server.addService(demo.Greeter.service, {
    SayHello: (call: grpc.ServerUnaryCall<{ name: string }, HelloReply>, callback: grpc.sendUnaryData<HelloReply>) => {
      setTimeout(() => callback(null, { message: `Hello, ${call.request.name}`, instance: name }), delayMs);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { address: `127.0.0.1:${port}`, server };
}

function bar(count: number, total: number): string {
  return '█'.repeat(Math.round((40 * count) / total));
}

async function traffic(title: string, call: (i: number) => Promise<HelloReply>, n = 300, concurrency = 16): Promise<void> {
  const counts: Record<string, number> = {};
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const reply = await call(next++);
      counts[reply.instance] = (counts[reply.instance] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  console.log(`\n${title}`);
  for (const name of Object.keys(counts).sort()) {
    console.log(`  ${name.padEnd(10)} ${String(counts[name]).padStart(4)}  ${bar(counts[name], n)}`);
  }
}

async function main(): Promise<void> {
  const instances = {
    'greeter-a': await startInstance('greeter-a'),
    'greeter-b': await startInstance('greeter-b'),
    'greeter-c': await startInstance('greeter-c', 20),
  };
  const [a, b, c] = Object.values(instances).map((i) => i.address);
  console.log('three Greeter instances:', Object.entries(instances).map(([n, i]) => `${n}=${i.address}`).join('  '));
  console.log('(greeter-c answers 20 ms slower than the others)');

  const registry = memoryResolver();
  registry.set('greeter', [a, b, c]);

  const withBalancer = async (balancer: Balancer) => {
    const client = createClient(demo.Greeter, { resolver: registry, service: 'greeter', balancer });
    // Let every instance connect first, so the first figures show the balancer, not the connecting.
    while (client.endpoints().length === 0 || !client.endpoints().every((e) => e.state === 'ready')) await new Promise((r) => setTimeout(r, 10));
    return client;
  };

  // The one line that changes in existing code:
  //   const client = new demo.Greeter('10.0.0.7:50051', grpc.credentials.createInsecure());
  const client = await withBalancer(weightedRoundRobin());
  const hello = (i: number) => client.async.SayHello({ name: `caller ${i}` }) as Promise<HelloReply>;

  await traffic('weighted round robin, equal weights: calls spread evenly', hello);

  registry.set('greeter', [{ address: a, weight: 3 }, { address: b, weight: 1 }, { address: c, weight: 1 }]);
  await traffic('weights 3:1:1 from the registry: applied in place, no reconnect', hello);

  registry.set('greeter', [a, b]);
  await traffic('greeter-c leaves the registry: it stops getting calls at once', hello);

  registry.set('greeter', [a, b, c]);
  const least = await withBalancer(leastConnection());
  await traffic('least connection (power of two choices): the slow instance holds calls longer, so gets fewer', (i) =>
    least.async.SayHello({ name: `caller ${i}` }) as Promise<HelloReply>,
  );

  const ewma = await withBalancer(peakEwma());
  await traffic('peak EWMA (latency × calls in flight): the slow instance is all but avoided', (i) =>
    ewma.async.SayHello({ name: `caller ${i}` }) as Promise<HelloReply>,
  );

  const hashed = await withBalancer(consistentHash());
  const homes = new Map<string, Set<string>>();
  await traffic('consistent hash on a user id (12 users): each user sticks to one instance', async (i) => {
    const user = `user-${i % 12}`;
    const reply = (await hashed.async.SayHello({ name: user }, { hashKey: user })) as HelloReply;
    homes.set(user, (homes.get(user) ?? new Set()).add(reply.instance));
    return reply;
  });
  console.log(`  every user always reached the same instance: ${[...homes.values()].every((h) => h.size === 1)}`);

  console.log('\nendpoints as the first client sees them:');
  for (const e of client.endpoints()) {
    const latency = e.latencyEwmaMs === undefined ? '-' : `${e.latencyEwmaMs.toFixed(2)} ms`;
    console.log(`  ${e.address.padEnd(17)} ${e.state.padEnd(6)} weight ${e.weight}  calls ${String(e.calls).padStart(4)}  latency ${latency}`);
  }

  for (const c of [client, least, ewma, hashed]) c.close();
  for (const i of Object.values(instances)) i.server.forceShutdown();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
