import * as grpc from '@grpc/grpc-js';
import { after } from 'node:test';
import { createClient, memoryResolver, type ClientOptions, type LoadBalancedClientBase, type Middleware } from '../../src';
import { EchoClient, startEchoServers, type EchoReply, type EchoRequest, type EchoServer, type EchoStub } from './echo-server';

/** A load-balanced client of the Echo service, called through its untyped proto-loader methods. */
export type Echo = EchoStub & LoadBalancedClientBase<unknown>;

/** What a call ended with: the reply, or the error it failed with. */
export type Outcome = EchoReply | grpc.ServiceError;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 10 ms until it holds; throws, naming `what`, once `ms` have passed. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 5000, what = 'condition'): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`${what} not met within ${ms} ms`);
    await sleep(10);
  }
}

/** One Unary call; rejects with the grpc-js ServiceError when it fails. */
export function unary(c: Echo, request: EchoRequest = { message: 'hi' }, options: grpc.CallOptions = {}): Promise<EchoReply> {
  return new Promise((resolve, reject) =>
    c.unary(request, new grpc.Metadata(), options, (err: grpc.ServiceError | null, reply: EchoReply) => (err ? reject(err) : resolve(reply))),
  );
}

/** One Unary call; resolves with its reply or with the error it failed with. */
export function outcome(c: Echo, request: EchoRequest = { message: 'hi' }, options: grpc.CallOptions = {}): Promise<Outcome> {
  return new Promise((resolve) =>
    c.unary(request, new grpc.Metadata(), options, (err: grpc.ServiceError | null, reply: EchoReply) => resolve(err ?? reply)),
  );
}

export const isError = (x: Outcome): x is grpc.ServiceError => x instanceof Error;

/** Makes `n` calls one after another; how many each server (by name) answered. */
export async function spread(c: Echo, n: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const reply = await unary(c, { message: `m${i}` });
    counts[reply.server] = (counts[reply.server] ?? 0) + 1;
  }
  return counts;
}

export interface TestBed {
  /** Remembers servers to force-stop at the end; returns them. */
  track(...servers: EchoServer[]): EchoServer[];
  /** Starts `n` Echo servers named s0, s1, …, stopped at the end. */
  start(n: number): Promise<EchoServer[]>;
  /** A client closed at the end. */
  client(options: ClientOptions): Echo;
  /** A client over a memory resolver listing `addresses` (service "echo"), once every address is available. */
  readyClient(addresses: string[], middleware: Middleware[]): Promise<Echo>;
  /** Runs `close` at the end, before the servers stop. */
  closeLater(close: () => void): void;
}

/**
 * Servers and clients that outlive a test: everything made through it is closed by an `after` hook,
 * clients and `closeLater` callbacks first, then the servers. The hook belongs to the suite (or file)
 * this is called in.
 */
export function testBed(): TestBed {
  const servers: EchoServer[] = [];
  const closers: (() => void)[] = [];
  after(() => {
    for (const close of closers) close();
    for (const server of servers) server.forceStop();
  });

  const track = (...started: EchoServer[]): EchoServer[] => {
    servers.push(...started);
    return started;
  };
  const closeLater = (close: () => void): void => {
    closers.push(close);
  };
  const client = (options: ClientOptions): Echo => {
    const c = createClient(EchoClient, options) as unknown as Echo;
    closeLater(() => c.close());
    return c;
  };
  return {
    track,
    closeLater,
    client,
    start: async (n) => track(...(await startEchoServers(n))),
    readyClient: async (addresses, middleware) => {
      const resolver = memoryResolver();
      resolver.set('echo', addresses);
      const c = client({ resolver, service: 'echo', middleware });
      await eventually(() => c.endpoints().filter((e) => e.available).length === addresses.length);
      return c;
    },
  };
}

/** Four callers calling one after another until stopped: which server answered each call and when it started, and the failures. */
export function steadyLoad(c: Echo, callers = 4) {
  const calls: { server: string; startedAt: number }[] = [];
  const failures: Error[] = [];
  let running = true;
  const caller = async () => {
    while (running) {
      const startedAt = Date.now();
      try {
        calls.push({ server: (await unary(c, { message: 'load' })).server, startedAt });
      } catch (error) {
        failures.push(error as Error);
      }
    }
  };
  const running$ = Array.from({ length: callers }, caller);
  return {
    calls,
    failures,
    stop: async () => {
      running = false;
      await Promise.all(running$);
    },
  };
}
