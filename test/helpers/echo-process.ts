// An Echo server in a process of its own, so a test can kill it with SIGKILL or SIGTERM as an
// instance dies in production. Usage: node --import tsx echo-process.ts '{"name":"s2","behaviour":{…}}'
// Prints "READY <address>" once listening; on SIGTERM it shuts down gracefully (GOAWAY, then exit).
import { startEchoServer, type Behaviour } from './echo-server';

const options = JSON.parse(process.argv[2] ?? '{}') as { name?: string; port?: number; behaviour?: Behaviour };
startEchoServer(options).then((server) => {
  process.stdout.write(`READY ${server.address}\n`);
  process.on('SIGTERM', () => {
    void server.stop().then(() => process.exit(0));
  });
});
