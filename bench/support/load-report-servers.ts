// Echo servers that report their load the ORCA way (per-call trailers and the out-of-band
// OpenRcaService stream), in their own process so the client process measures only the client.
//
// A server's figures follow Little's law over the last second: qps = calls answered, utilization
// = qps × mean service time / WORKERS, as a server with WORKERS threads of capacity would see
// its busy fraction. A server that answers in 25 ms thus reports a far higher utilization at the
// same qps than one that answers at once, and ORCA weights (qps / utilization = WORKERS / service
// time) send it less.
import * as grpc from '@grpc/grpc-js';
import { forkServers, type ServerProcess } from './harness';
import { echoService, type EchoReply, type EchoRequest } from '../../test/helpers/echo-server';

/** Capacity the utilization is counted against. */
const WORKERS = 4;
/** How often the reported figures are recomputed, and the window they cover. */
const UPDATE_MS = 100;
const WINDOW_MS = 1_000;

// grpc-js's per-call encoder, used once per update rather than per call (grpc-js 1.14's own
// per-call recording re-reads its proto files for every call, ~15 ms of CPU).
const { PerRequestMetricRecorder } = require('@grpc/grpc-js/build/src/orca') as {
  PerRequestMetricRecorder: new () => { recordApplicationUtilizationMetric(v: number): void; recordQpsMetric(v: number): void; serialize(): Buffer };
};

async function startServer(name: string, delayMs: number): Promise<{ address: string; stop(): void }> {
  const server = new grpc.Server();
  const recorder = new grpc.ServerMetricRecorder();
  recorder.addToServer(server);
  // Completed calls per UPDATE_MS slot: count and summed service time.
  const slots = WINDOW_MS / UPDATE_MS;
  const counts = new Float64Array(slots);
  const busy = new Float64Array(slots);
  let slot = 0;
  let trailer: Buffer = Buffer.alloc(0);
  const update = () => {
    let calls = 0;
    let time = 0;
    for (let i = 0; i < slots; i++) {
      calls += counts[i];
      time += busy[i];
    }
    const qps = calls / (WINDOW_MS / 1000);
    const utilization = Math.min(1, time / WINDOW_MS / WORKERS);
    recorder.setQpsMetric(qps);
    recorder.setApplicationUtilizationMetric(utilization);
    const perCall = new PerRequestMetricRecorder();
    perCall.recordQpsMetric(qps);
    perCall.recordApplicationUtilizationMetric(utilization);
    trailer = perCall.serialize();
    slot = (slot + 1) % slots;
    counts[slot] = 0;
    busy[slot] = 0;
  };
  const timer = setInterval(update, UPDATE_MS);
  update();
  server.addService(echoService, {
    Unary: (call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, callback: grpc.sendUnaryData<EchoReply>) => {
      const started = performance.now();
      const answer = () => {
        counts[slot]++;
        busy[slot] += performance.now() - started;
        const trailers = new grpc.Metadata();
        trailers.set('endpoint-load-metrics-bin', trailer);
        callback(null, { message: call.request.message ?? '', server: name, index: 0 }, trailers);
      };
      if (delayMs > 0) setTimeout(answer, delayMs);
      else answer();
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    address: `127.0.0.1:${port}`,
    stop: () => {
      clearInterval(timer);
      server.forceShutdown();
    },
  };
}

/** Starts servers answering after `delays[i]` ms in a child process. */
export function startLoadReportProcess(delays: number[]): Promise<ServerProcess> {
  return forkServers(__dirname, 'load-report-servers', ['serve', JSON.stringify(delays)]);
}

async function serve(delays: number[]): Promise<void> {
  const servers = await Promise.all(delays.map((delay, i) => startServer(`s${i}`, delay)));
  process.send!({ addresses: servers.map((s) => s.address) });
  process.on('disconnect', () => {
    for (const s of servers) s.stop();
    process.exit(0);
  });
}

if (process.argv[2] === 'serve' && process.send) void serve(JSON.parse(process.argv[3]));
