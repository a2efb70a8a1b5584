// The library's own cost per call, without the network: grpc-js's makeUnaryRequest is replaced by
// an instant transport (answers on the next microtask), so what remains is the wrapper — call
// context, middleware chain, pick, endpoint stats, call object. Compared with calling the same
// instant transport directly, and set against a real loopback call's client CPU from bench/e2e.ts.
//
//   npm run bench -- overhead
import * as grpc from '@grpc/grpc-js';
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { createClient, metrics, retry } from '../src';
import { Registry } from 'prom-client';
import { EchoClient, startEchoServer, type EchoStub } from '../test/helpers/echo-server';
import { fmt, median } from './support/harness';

const CALLS = 200_000;
const IN_FLIGHT = 64;
const ROUNDS = 5;

const trailers = new grpc.Metadata();
type UnaryCallback = (error: grpc.ServiceError | null, value?: unknown) => void;
function instant(this: grpc.Client, _path: string, _ser: unknown, _deser: unknown, argument: unknown, _md: unknown, _opts: unknown, callback: UnaryCallback) {
  const call = Object.assign(new EventEmitter(), { cancel() {}, getPeer: () => 'instant' });
  queueMicrotask(() => {
    callback(null, argument);
    call.emit('status', { code: grpc.status.OK, details: '', metadata: trailers });
  });
  return call;
}

async function measure(call: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < CALLS; i += IN_FLIGHT) await Promise.all(Array.from({ length: IN_FLIGHT }, call));
  return ((performance.now() - t0) * 1000) / CALLS;
}

async function main(): Promise<void> {
  // A real server, so that the endpoint's channel becomes ready; the calls never reach it.
  const server = await startEchoServer();
  (grpc.Client.prototype as unknown as { makeUnaryRequest: typeof instant }).makeUnaryRequest = instant;

  const raw = new grpc.Client(server.address, grpc.credentials.createInsecure());
  const def = EchoClient.service.Unary;
  const request = { message: 'x' };
  const direct = () =>
    new Promise((resolve) =>
      raw.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, request, new grpc.Metadata(), {}, (_e, r) => resolve(r)),
    );
  const plain = createClient(EchoClient, { target: `static:///${server.address}` }) as unknown as EchoStub & { close(): void; endpoints(): { available: boolean }[] };
  const m = metrics({ registry: new Registry() });
  const full = createClient(EchoClient, { target: `static:///${server.address}`, middleware: [m, retry(), m.attempts] }) as unknown as typeof plain;
  for (const c of [plain, full]) while (!c.endpoints()[0]?.available) await new Promise((r) => setTimeout(r, 5));
  const through = (c: EchoStub) => () => new Promise((resolve) => c.unary(request, (_e: unknown, r: unknown) => resolve(r)));

  const contenders: [string, () => Promise<unknown>][] = [
    ['instant transport, called directly', direct],
    ['createClient, no middleware', through(plain)],
    ['createClient, metrics + retry + metrics.attempts', through(full)],
  ];
  const results = new Map<string, number[]>(contenders.map(([name]) => [name, []]));
  for (const [, call] of contenders) await measure(call);
  for (let r = 0; r < ROUNDS; r++) for (const [name, call] of contenders) results.get(name)!.push(await measure(call));

  console.log(`${CALLS.toLocaleString('en')} unary calls, ${IN_FLIGHT} in flight, over an instant transport; median of ${ROUNDS} rounds`);
  const base = median(results.get(contenders[0][0])!);
  for (const [name] of contenders) {
    const us = median(results.get(name)!);
    console.log(`  ${name.padEnd(50)} ${fmt(us)} µs/call   library's own cost ${fmt(us - base)} µs/call`);
  }
  console.log('(a loopback call costs the client about 200 µs of CPU in bench/e2e.ts on this kind of machine: divide to get the share)');
  plain.close();
  full.close();
  raw.close();
  server.forceStop();
}

void main();
