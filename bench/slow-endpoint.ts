// Tail latency when one of four servers is slow (25 ms per call): latency-aware balancers against
// round robin, grpc-js's own included, at the same concurrency in one run. Servers run in another
// process. Goal: p99 under leastConnection and peakEwma at most 0.25 of round robin's.
//
//   npx tsx bench/slow-endpoint.ts [--seconds 3] [--concurrency 16]
import * as grpc from '@grpc/grpc-js';
import { parseArgs } from 'node:util';
import { createClient, leastConnection, peakEwma, weightedRoundRobin, type Balancer } from '../src';
import { EchoClient, type EchoStub } from '../test/helpers/echo-server';
import { fmt, runLoad, startServerProcess } from './support/harness';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '16' },
  },
});
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const SLOW_MS = 25;

async function main(): Promise<void> {
  const servers = await startServerProcess(4, [{}, {}, {}, { delayMs: SLOW_MS }]);
  const slowAddress = servers.addresses[3];
  const target = `static:///${servers.addresses.join(',')}`;
  const call = (c: EchoStub) => () =>
    new Promise((resolve, reject) => c.unary({ message: 'x' }, (err: Error | null, r: unknown) => (err ? reject(err) : resolve(r))));

  const plain = new EchoClient(`ipv4:${servers.addresses.join(',')}`, grpc.credentials.createInsecure(), {
    'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
  }) as EchoStub;
  const contenders: [string, EchoStub, (() => number) | undefined][] = [];
  const balancers: [string, Balancer][] = [
    ['weightedRoundRobin', weightedRoundRobin()],
    ['leastConnection', leastConnection()],
    ['peakEwma', peakEwma()],
  ];
  for (const [name, balancer] of balancers) {
    const c = createClient(EchoClient, { target, balancer }) as unknown as EchoStub & { endpoints(): { address: string; calls: number }[] };
    contenders.push([name, c, () => c.endpoints().find((e) => e.address === slowAddress)!.calls]);
  }
  contenders.push(['grpc-js round_robin', plain, undefined]);

  console.log(`unary echo, 4 servers (one ${SLOW_MS} ms slower), ${concurrency} in flight, ${seconds} s each`);
  const p99: Record<string, number> = {};
  for (const [name, c, slowCalls] of contenders) {
    await runLoad(call(c), concurrency, 500);
    const before = slowCalls?.() ?? 0;
    const r = await runLoad(call(c), concurrency, seconds * 1000);
    const share = slowCalls ? `${fmt((100 * (slowCalls() - before)) / r.calls, 1)} %` : 'n/a';
    p99[name] = r.p99;
    console.log(
      `  ${name.padEnd(20)} ${fmt(r.throughput, 0).padStart(6)} calls/s   p50 ${fmt(r.p50)} ms   p99 ${fmt(r.p99)} ms   to the slow server ${share}`,
    );
  }
  const rr = p99['grpc-js round_robin'];
  console.log(
    `p99 ratio to grpc-js round_robin: leastConnection ${fmt(p99.leastConnection / rr, 3)}, peakEwma ${fmt(p99.peakEwma / rr, 3)} (goal <= 0.25); weightedRoundRobin ${fmt(p99.weightedRoundRobin / rr, 3)}`,
  );
  console.log(
    `p99 ratio to weightedRoundRobin: leastConnection ${fmt(p99.leastConnection / p99.weightedRoundRobin, 3)}, peakEwma ${fmt(p99.peakEwma / p99.weightedRoundRobin, 3)}`,
  );
  for (const [, c] of contenders) c.close();
  servers.stop();
}

void main();
