// One Greeter instance: it serves, registers itself in Consul with a gRPC health check, and on
// SIGTERM leaves Consul before it stops taking calls.
//
//   CONSUL_HTTP_ADDR=127.0.0.1:8500 npx tsx examples/consul/service.ts greeter-a 1
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { HealthImplementation } from 'grpc-health-check';
import { join } from 'node:path';
import { consulRegistry } from 'grpc-lb-kit';

const definition = protoLoader.loadSync(join(__dirname, '..', 'proto', 'greeter.proto'));
const { demo } = grpc.loadPackageDefinition(definition) as any;

async function main(): Promise<void> {
  const [name = 'greeter', weightText = '1'] = process.argv.slice(2);
  const server = new grpc.Server();
  server.addService(demo.Greeter.service, {
    SayHello: (call: grpc.ServerUnaryCall<{ name: string }, unknown>, callback: grpc.sendUnaryData<unknown>) =>
      callback(null, { message: `Hello, ${call.request.name}`, instance: name }),
  });
  // Consul's gRPC check asks this service; NOT_SERVING would take the instance out of every client.
  new HealthImplementation({ '': 'SERVING' }).addToServer(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, p) => (error ? reject(error) : resolve(p))),
  );

  // The agent's address and ACL token come from CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN.
  const registry = consulRegistry({ onError: (error) => console.error(`${name}: ${error.message}`) });
  await registry.register({
    name: 'greeter',
    address: '127.0.0.1',
    port,
    weight: Number(weightText),
    meta: { instance: name },
    check: { type: 'grpc', interval: '1s' },
  });
  registry.deregisterOnShutdown(server, { drainMs: 500 });
  console.log(JSON.stringify({ name, port }));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
