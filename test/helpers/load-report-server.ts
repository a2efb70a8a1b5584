import * as grpc from '@grpc/grpc-js';
import { echoService, type EchoReply, type EchoRequest } from './echo-server';

/** What a load-reporting server says about itself, changeable while it runs. */
export interface ReportedLoad {
  /** application_utilization, 0..1. */
  utilization: number;
  /** rps_fractional. */
  qps: number;
  /** eps. */
  eps?: number;
}

export interface LoadReportServer {
  readonly name: string;
  readonly address: string;
  /** Unary calls answered. */
  calls: number;
  /** Out-of-band report streams open now. */
  readonly reportStreams: number;
  /** Sets what the per-call trailers and the out-of-band stream report. */
  report(load: ReportedLoad): void;
  forceStop(): void;
}

// grpc-js's per-call recorder, whose encoding the trailers carry.
const { PerRequestMetricRecorder } = require('@grpc/grpc-js/build/src/orca') as {
  PerRequestMetricRecorder: new () => {
    recordApplicationUtilizationMetric(v: number): void;
    recordQpsMetric(v: number): void;
    recordEpsMetric(v: number): void;
    serialize(): Buffer;
  };
};

/**
 * A real grpc-js Echo server (Unary only) that reports its load in every call's
 * `endpoint-load-metrics-bin` trailer and, when `outOfBand`, on the OpenRcaService stream through
 * grpc-js's ServerMetricRecorder.
 *
 * The trailer is encoded by grpc-js's own PerRequestMetricRecorder, once per change of the load,
 * and sent with the reply. A grpc-js 1.14 server recording per call (`grpc.server_call_metric_recording`
 * and `call.getMetricsRecorder()`) re-reads the ORCA proto files on every call it encodes, about
 * 15 ms of CPU each: too slow for a test (or a service) making thousands of calls.
 */
export async function startLoadReportServer(name: string, load: ReportedLoad, options: { outOfBand?: boolean; delayMs?: number } = {}): Promise<LoadReportServer> {
  const server = new grpc.Server();
  const recorder = new grpc.ServerMetricRecorder();
  let trailer: Buffer = Buffer.alloc(0);
  const self = {
    name,
    calls: 0,
    report(next: ReportedLoad) {
      const perCall = new PerRequestMetricRecorder();
      perCall.recordApplicationUtilizationMetric(next.utilization);
      perCall.recordQpsMetric(next.qps);
      perCall.recordEpsMetric(next.eps ?? 0);
      trailer = perCall.serialize();
      recorder.setApplicationUtilizationMetric(next.utilization);
      recorder.setQpsMetric(next.qps);
      recorder.setEpsMetric(next.eps ?? 0);
    },
  };
  self.report(load);
  server.addService(echoService, {
    Unary: (call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, callback: grpc.sendUnaryData<EchoReply>) => {
      self.calls++;
      const trailers = new grpc.Metadata();
      trailers.set('endpoint-load-metrics-bin', trailer);
      const answer = () => callback(null, { message: call.request.message ?? '', server: name, index: 0 }, trailers);
      if (options.delayMs) setTimeout(answer, options.delayMs);
      else answer();
    },
  });
  let reportStreams = 0;
  if (options.outOfBand) {
    // grpc-js's own OpenRcaService implementation, with a count of the streams open on it.
    const addService = server.addService.bind(server);
    server.addService = (definition, implementation) => {
      const stream = (implementation as Record<string, (call: grpc.ServerWritableStream<unknown, unknown>) => void>).StreamCoreMetrics;
      addService(definition, {
        StreamCoreMetrics: (call: grpc.ServerWritableStream<unknown, unknown>) => {
          reportStreams++;
          call.on('cancelled', () => reportStreams--);
          stream(call);
        },
      });
    };
    recorder.addToServer(server);
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  // defineProperty, not Object.assign: assign would copy the getter's value once.
  return Object.defineProperties(self, {
    address: { value: `127.0.0.1:${port}` },
    reportStreams: { get: () => reportStreams },
    forceStop: { value: () => server.forceShutdown() },
  }) as typeof self & LoadReportServer;
}
