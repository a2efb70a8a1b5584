// A client exposing /metrics the way a service's InitMetrics would: one prom-client Registry for
// the process, the load-balancing client's series on it, scraped over HTTP by Prometheus.
// Starts three Greeter instances with the standard health service, sends traffic, and halfway
// through takes one instance out via its health status and drops another from the registry.
//
//   npm run example:metrics                       serves http://127.0.0.1:9464/metrics for 30 s (or until Ctrl-C)
//   npm run example:metrics -- --once             prints one scrape and exits
//   npm run example:metrics -- --port 0 --seconds 120
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { HealthImplementation } from 'grpc-health-check';
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { createClient, memoryResolver, type Logger } from 'grpc-lb-kit';
import { metrics, retry } from 'grpc-lb-kit';

/** The OpenTelemetry Prometheus exporter's default port: clear of the usual 8080 and 9090. */
const DEFAULT_PORT = 9464;
const DEFAULT_SECONDS = 30;
/** One call every 10 ms: enough traffic to see the spread, little enough to read the logs. */
const CALL_INTERVAL_MS = 10;
/** How long --once sends traffic before its scrape. */
const ONCE_TRAFFIC_MS = 1_500;

const { values } = parseArgs({
  options: {
    once: { type: 'boolean', default: false },
    port: { type: 'string', default: String(DEFAULT_PORT) },
    seconds: { type: 'string', default: String(DEFAULT_SECONDS) },
  },
});

const definition = protoLoader.loadSync(join(__dirname, '..', 'proto', 'greeter.proto'));
const { demo } = grpc.loadPackageDefinition(definition) as any;

interface Instance {
  name: string;
  address: string;
  server: grpc.Server;
  health: HealthImplementation;
}

async function startInstance(name: string, failEvery = 0): Promise<Instance> {
  const server = new grpc.Server();
  let calls = 0;
  server.addService(demo.Greeter.service, {
    SayHello: (call: grpc.ServerUnaryCall<{ name: string }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      // A flaky instance: its failures show as endpoint_error on it and as retries.
      if (failEvery > 0 && ++calls % failEvery === 0) return callback({ code: grpc.status.UNAVAILABLE, details: `${name} is overloaded` });
      callback(null, { message: `Hello, ${call.request.name}`, instance: name });
    },
  });
  const health = new HealthImplementation({ '': 'SERVING' });
  health.addToServer(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { name, address: `127.0.0.1:${port}`, server, health };
}

/** pino's call shape on the console, so the client's resolver and health logs are visible. */
const logger: Logger = {
  debug: () => undefined,
  info: (fields, message) => console.log(`[info] ${message ?? ''} ${JSON.stringify(fields)}`),
  warn: (fields, message) => console.log(`[warn] ${message ?? ''} ${JSON.stringify(fields)}`),
  error: (fields, message) => console.log(`[error] ${message ?? ''} ${JSON.stringify(fields)}`),
};

function serveMetrics(registry: Registry, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(text),
      (error: unknown) => res.writeHead(500).end(String(error)),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function scrape(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${url}: HTTP ${res.statusCode}`))));
    }).on('error', reject);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const instances = [await startInstance('greeter-a'), await startInstance('greeter-b', 10), await startInstance('greeter-c')];
  const [a, b] = instances;
  const resolver = memoryResolver();
  resolver.set('greeter', instances.map((i) => i.address));

  const registry = new Registry();
  const m = metrics({ registry });
  const client = createClient(demo.Greeter, {
    resolver,
    service: 'greeter',
    // m outermost sees calls as the caller does; m.attempts innermost sees each retry and where it went.
    middleware: [m, retry({ maxAttempts: 3 }), m.attempts],
    healthCheck: true,
    logger,
  });

  const http = await serveMetrics(registry, values.once ? 0 : Number(values.port));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/metrics`;
  console.log(`instances: ${instances.map((i) => `${i.name}=${i.address}`).join('  ')} (greeter-b fails every 10th call)`);
  console.log(`serving ${url}`);

  let running = true;
  const traffic = (async () => {
    for (let i = 0; running; i++) {
      await client.async.sayHello({ name: `caller-${i}` }).catch(() => undefined);
      await sleep(CALL_INTERVAL_MS);
    }
  })();

  const totalMs = values.once ? ONCE_TRAFFIC_MS : Number(values.seconds) * 1000;
  const stopped = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, totalMs);
    process.once('SIGINT', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  // Halfway: greeter-a reports NOT_SERVING (out of the picker, state="not_serving"), and greeter-c
  // leaves the registry (its per-endpoint series go with it).
  const halfway = setTimeout(() => {
    console.log('\n-- greeter-a reports NOT_SERVING; greeter-c leaves the registry --\n');
    a.health.setStatus('', 'NOT_SERVING');
    resolver.set('greeter', [a.address, b.address]);
  }, totalMs / 2);
  await stopped;
  clearTimeout(halfway);

  if (values.once) {
    const text = await scrape(url);
    console.log(`\nGET ${url}\n`);
    console.log(
      text
        .split('\n')
        .filter((line) => /^(grpc_client_(started|handled)_total|grpc_lb_)/.test(line) || /^# HELP grpc_lb_/.test(line))
        .join('\n'),
    );
  }

  running = false;
  await traffic;
  client.close();
  http.close();
  for (const instance of instances) instance.server.forceShutdown();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
