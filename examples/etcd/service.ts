// One Greeter instance: it serves, registers itself in etcd under a lease the library keeps
// alive, and on SIGTERM leaves etcd before it stops taking calls.
//
//   ETCD_ENDPOINTS=127.0.0.1:2379 npx tsx examples/etcd/service.ts greeter-a 1
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { join } from 'node:path';
import { etcdRegistry } from 'grpc-lb-kit';

const definition = protoLoader.loadSync(join(__dirname, '..', 'proto', 'greeter.proto'));
const { demo } = grpc.loadPackageDefinition(definition) as any;

async function main(): Promise<void> {
  const [name = 'greeter', weightText = '1'] = process.argv.slice(2);
  const server = new grpc.Server();
  server.addService(demo.Greeter.service, {
    SayHello: (call: grpc.ServerUnaryCall<{ name: string }, unknown>, callback: grpc.sendUnaryData<unknown>) =>
      callback(null, { message: `Hello, ${call.request.name}`, instance: name }),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, p) => (error ? reject(error) : resolve(p))),
  );

  // A 3 s lease so the example shows a crashed instance leaving quickly; the default is 30 s.
  const registry = etcdRegistry({
    hosts: process.env.ETCD_ENDPOINTS,
    leaseTtlMs: 3_000,
    onError: (error) => console.error(`${name}: ${error.message}`),
  });
  await registry.register({ name: 'greeter', address: '127.0.0.1', port, weight: Number(weightText), meta: { instance: name } });
  registry.deregisterOnShutdown(server, { drainMs: 500 });
  console.log(JSON.stringify({ name, port }));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
