// End-to-end cost of the library: unary echo over 3 local servers (in another process) through
// createClient against a plain grpc-js client using its own round_robin over the same addresses,
// at the same concurrency, in one run. Rounds alternate between the two so machine noise hits
// both alike; the medians of the rounds are compared.
//
//   npm run bench -- e2e [--seconds 3] [--rounds 5] [--concurrency 64]
import * as grpc from '@grpc/grpc-js';
import { createClient } from '../src';
import { EchoClient, type EchoStub } from '../test/helpers/echo-server';
import { fmt, median, runLoad, startServerProcess, numericArgs, type LoadResult } from './support/harness';

const { seconds, rounds, concurrency } = numericArgs({ seconds: 3, rounds: 5, concurrency: 64 });

async function main(): Promise<void> {
  const servers = await startServerProcess(3);
  const request = { message: 'hello' };

  const plain = new EchoClient(`ipv4:${servers.addresses.join(',')}`, grpc.credentials.createInsecure(), {
    'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
  }) as EchoStub;
  const lb = createClient(EchoClient, { target: `static:///${servers.addresses.join(',')}` }) as unknown as EchoStub;
  const callWith = (c: EchoStub) => () =>
    new Promise((resolve, reject) => c.unary(request, (err: Error | null, r: unknown) => (err ? reject(err) : resolve(r))));
  // The same three channels createClient makes (one per address), taken in turn by a plain loop:
  // separates what the channel-per-endpoint layout costs from what the library's own code does.
  const perAddress = servers.addresses.map(
    (address) => new EchoClient(address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }) as EchoStub,
  );
  let turn = 0;
  const contenders: [string, () => Promise<unknown>][] = [
    ['grpc-js round_robin', callWith(plain)],
    ['createClient (weighted round robin)', callWith(lb)],
    ['3 grpc-js clients, taken in turn', () => callWith(perAddress[turn++ % perAddress.length])()],
  ];

  // Warm up both: connections, JIT.
  for (const [, call] of contenders) await runLoad(call, concurrency, 1000);

  const results = new Map<string, LoadResult[]>(contenders.map(([name]) => [name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, call] of r % 2 ? [...contenders].reverse() : contenders) results.get(name)!.push(await runLoad(call, concurrency, seconds * 1000));
  }

  const summary = contenders.map(([name]) => {
    const runs = results.get(name)!;
    return {
      name,
      throughput: median(runs.map((x) => x.throughput)),
      p50: median(runs.map((x) => x.p50)),
      p99: median(runs.map((x) => x.p99)),
      cpu: median(runs.map((x) => x.cpuPerCallUs)),
      failures: runs.reduce((a, x) => a + x.failures, 0),
    };
  });
  console.log(`unary echo, 3 servers, ${concurrency} in flight, ${rounds} rounds × ${seconds} s, medians`);
  for (const s of summary) {
    console.log(`  ${s.name.padEnd(38)} ${fmt(s.throughput, 0).padStart(7)} calls/s   p50 ${fmt(s.p50)} ms   p99 ${fmt(s.p99)} ms   client CPU ${fmt(s.cpu, 1)} µs/call   failures ${s.failures}`);
  }
  const [base, ours, layout] = summary;
  const ratios = (a: typeof ours, b: typeof base) =>
    `throughput ${fmt(a.throughput / b.throughput, 3)}, p50 ${fmt(a.p50 / b.p50, 3)}, p99 ${fmt(a.p99 / b.p99, 3)}, client CPU per call ${fmt(a.cpu / b.cpu, 3)}`;
  console.log(`createClient / grpc-js round_robin: ${ratios(ours, base)} (goals: throughput >= 0.97, p50 <= 1.05)`);
  console.log(`createClient / 3 grpc-js clients in turn (the library's own code alone): ${ratios(ours, layout)}`);
  console.log(`3 grpc-js clients in turn / grpc-js round_robin (one channel per address): ${ratios(layout, base)}`);

  plain.close();
  for (const c of perAddress) c.close();
  (lb as unknown as { close(): void }).close();
  servers.stop();
}

void main();
