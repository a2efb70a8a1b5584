import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { join } from 'node:path';

export const ECHO_PROTO = join(__dirname, '..', 'fixtures', 'echo.proto');

export interface EchoRequest {
  message?: string;
  count?: number;
  delayMs?: number;
  failCode?: number;
}
export interface EchoReply {
  message: string;
  server: string;
  index: number;
}

const packageDefinition = protoLoader.loadSync(ECHO_PROTO, { keepCase: false, defaults: true });
const loaded = grpc.loadPackageDefinition(packageDefinition) as any;

/** The client constructor as @grpc/proto-loader + loadPackageDefinition make it. */
export const EchoClient: grpc.ServiceClientConstructor = loaded.test.echo.Echo;
export const echoService: grpc.ServiceDefinition = EchoClient.service;

/** What a server does with every call, changeable while it runs. */
export interface Behaviour {
  /** Delay before answering each unary call / each streamed reply. */
  delayMs?: number;
  /** Answer every call with this status code instead of a reply. */
  failCode?: grpc.status;
  /** Never answer (until the call is cancelled or its deadline passes). */
  stall?: boolean;
}

export interface EchoServer {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly server: grpc.Server;
  /** Calls received, by method name ("Unary", "ServerStream", …). */
  readonly calls: Record<string, number>;
  /** Metadata of the last call received. */
  lastMetadata: grpc.Metadata | undefined;
  behaviour: Behaviour;
  /** Total calls received. */
  total(): number;
  resetCounts(): void;
  stop(): Promise<void>;
  forceStop(): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts a real grpc-js Echo server on 127.0.0.1 (or `host`), port chosen by the OS. */
export async function startEchoServer(
  options: { name?: string; host?: string; port?: number; credentials?: grpc.ServerCredentials; behaviour?: Behaviour } = {},
): Promise<EchoServer> {
  const server = new grpc.Server();
  const calls: Record<string, number> = {};
  const self: Partial<EchoServer> & { behaviour: Behaviour; lastMetadata?: grpc.Metadata } = {
    behaviour: { ...options.behaviour },
    lastMetadata: undefined,
  };
  const count = (method: string, metadata: grpc.Metadata) => {
    calls[method] = (calls[method] ?? 0) + 1;
    self.lastMetadata = metadata;
  };
  // Resolves to a status to fail with, or undefined to go on; waits out delays and stalls.
  const prelude = async (call: { cancelled: boolean; on(e: 'cancelled', f: () => void): unknown }, req?: EchoRequest) => {
    const b = self.behaviour;
    if (b.stall) {
      await new Promise<void>((resolve) => call.on('cancelled', () => resolve()));
      return grpc.status.CANCELLED;
    }
    const delay = (req?.delayMs ?? 0) || b.delayMs || 0;
    if (delay > 0) await sleep(delay);
    return (req?.failCode ?? 0) || b.failCode || undefined;
  };
  const name = options.name ?? 'echo';
  const reply = (message: string, index = 0): EchoReply => ({ message, server: name, index });

  server.addService(echoService, {
    Unary: async (call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, callback: grpc.sendUnaryData<EchoReply>) => {
      count('Unary', call.metadata);
      const fail = await prelude(call, call.request);
      if (fail === grpc.status.CANCELLED) return;
      if (fail) return callback({ code: fail, details: `${name} fails with ${grpc.status[fail]}` });
      const echoed = call.metadata.get('x-echo')[0];
      if (echoed !== undefined) call.sendMetadata(new grpc.Metadata());
      callback(null, reply(call.request.message ?? ''));
    },
    ClientStream: (call: grpc.ServerReadableStream<EchoRequest, EchoReply>, callback: grpc.sendUnaryData<EchoReply>) => {
      count('ClientStream', call.metadata);
      const parts: string[] = [];
      call.on('data', (m: EchoRequest) => parts.push(m.message ?? ''));
      call.on('end', async () => {
        const fail = await prelude(call);
        if (fail === grpc.status.CANCELLED) return;
        if (fail) return callback({ code: fail, details: `${name} fails with ${grpc.status[fail]}` });
        callback(null, reply(parts.join(','), parts.length));
      });
    },
    ServerStream: async (call: grpc.ServerWritableStream<EchoRequest, EchoReply>) => {
      count('ServerStream', call.metadata);
      const fail = await prelude(call, call.request);
      if (fail === grpc.status.CANCELLED) return;
      if (fail) return call.emit('error', { code: fail, details: `${name} fails with ${grpc.status[fail]}` });
      const n = call.request.count || 1;
      for (let i = 0; i < n && !call.cancelled; i++) {
        call.write(reply(call.request.message ?? '', i));
        if (self.behaviour.delayMs) await sleep(self.behaviour.delayMs);
      }
      call.end();
    },
    Bidi: (call: grpc.ServerDuplexStream<EchoRequest, EchoReply>) => {
      count('Bidi', call.metadata);
      let i = 0;
      call.on('data', (m: EchoRequest) => call.write(reply(m.message ?? '', i++)));
      call.on('end', () => call.end());
    },
  });

  const host = options.host ?? '127.0.0.1';
  const bindHost = host.includes(':') ? `[${host}]` : host;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${bindHost}:${options.port ?? 0}`, options.credentials ?? grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return Object.assign(self, {
    name,
    port,
    address: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`,
    server,
    calls,
    total: () => Object.values(calls).reduce((a, b) => a + b, 0),
    resetCounts: () => {
      for (const k of Object.keys(calls)) delete calls[k];
    },
    stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
    forceStop: () => server.forceShutdown(),
  }) as EchoServer;
}

/** Starts `n` servers named s0, s1, … */
export async function startEchoServers(n: number, behaviour?: Behaviour): Promise<EchoServer[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => startEchoServer({ name: `s${i}`, behaviour })));
}

/** A client of the Echo service as the untyped proto-loader constructor makes it. */
export type EchoStub = grpc.Client & Record<string, any>;
