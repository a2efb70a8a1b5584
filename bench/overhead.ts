// What the library costs a caller: unary echo over 3 real loopback servers (in another process,
// so this process's CPU time is the client's alone) through createClient, against a plain grpc-js
// client using its own round_robin over the same addresses. Measured at 1, 16, 64 and 256 calls
// in flight, with no middleware and with the README's full chain. Each contender is warmed at the
// concurrency measured; rounds alternate the order (A B, then B A) so machine noise and GC debt
// hit every side alike. Client CPU per call is process CPU time / calls. Ratios are per round
// (each side against the baseline of the same round): median, and range over the rounds.
//
//   npm run bench -- overhead [--seconds 2] [--rounds 6] [--concurrency N]  (N: one level only)
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { circuitBreaker, createClient, metrics, retry, timeout, type Middleware } from '../src';
import { EchoClient, type EchoStub } from '../test/helpers/echo-server';
import { fmt, median, numericArgs, runLoad, startServerProcess, type LoadResult } from './support/harness';

const LEVELS = [1, 16, 64, 256];
const WARM_MS = 1_000;
const { seconds, rounds, concurrency } = numericArgs({ seconds: 2, rounds: 6, concurrency: 0 });

/** The README's recommended chain. */
function readmeChain(): Middleware[] {
  const m = metrics({ registry: new Registry() });
  return [m, timeout(2_000), circuitBreaker({ scope: 'service' }), retry({ maxAttempts: 3 }), circuitBreaker({ scope: 'endpoint' }), m.attempts];
}

const callWith = (c: EchoStub) => {
  const request = { message: 'hello' };
  return () => new Promise((resolve, reject) => c.unary(request, (err: Error | null, r: unknown) => (err ? reject(err) : resolve(r))));
};

interface Row {
  name: string;
  runs: LoadResult[];
}

function ratios(row: Row, base: Row, pick: (r: LoadResult) => number): string {
  const values = row.runs.map((r, i) => pick(r) / pick(base.runs[i]));
  return `${fmt(median(values), 3)} (${fmt(Math.min(...values), 2)}–${fmt(Math.max(...values), 2)})`;
}

async function main(): Promise<void> {
  const servers = await startServerProcess(3);
  const target = servers.addresses.join(',');
  const plain = new EchoClient(`ipv4:${target}`, grpc.credentials.createInsecure(), {
    'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
  }) as EchoStub;
  const lb = createClient(EchoClient, { target: `static:///${target}` });
  const chained = createClient(EchoClient, { target: `static:///${target}`, middleware: readmeChain() });
  const contenders: [string, () => Promise<unknown>][] = [
    ['grpc-js round_robin', callWith(plain)],
    ['createClient, no middleware', callWith(lb as unknown as EchoStub)],
    ['createClient, README chain', callWith(chained as unknown as EchoStub)],
  ];

  console.log(`unary echo, 3 servers in another process; ${rounds} rounds × ${seconds} s per side, order alternating; ratios to grpc-js round_robin: median (range)`);
  for (const level of concurrency ? [concurrency] : LEVELS) {
    for (const [, call] of contenders) await runLoad(call, level, WARM_MS);
    const rows: Row[] = contenders.map(([name]) => ({ name, runs: [] }));
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 ? [...rows.keys()].reverse() : [...rows.keys()];
      for (const i of order) rows[i].runs.push(await runLoad(contenders[i][1], level, seconds * 1000));
    }
    const [base] = rows;
    console.log(`\n${level} in flight`);
    for (const row of rows) {
      const failures = row.runs.reduce((a, x) => a + x.failures, 0);
      const line = `  ${row.name.padEnd(28)} ${fmt(median(row.runs.map((x) => x.throughput)), 0).padStart(6)} calls/s   p50 ${fmt(median(row.runs.map((x) => x.p50)))} ms   p99 ${fmt(median(row.runs.map((x) => x.p99)))} ms   client CPU ${fmt(median(row.runs.map((x) => x.cpuPerCallUs)), 1)} µs/call   failures ${failures}`;
      console.log(line);
      if (row === base) continue;
      console.log(
        `    vs round_robin: CPU per call ${ratios(row, base, (x) => x.cpuPerCallUs)}, throughput ${ratios(row, base, (x) => x.throughput)}, p50 ${ratios(row, base, (x) => x.p50)}, p99 ${ratios(row, base, (x) => x.p99)}`,
      );
    }
  }
  console.log('\ngoals at 64 in flight: CPU per call <= 0.95, throughput >= 1.0, p50 <= 1.0; README chain CPU per call <= 1.05');

  plain.close();
  lb.close();
  chained.close();
  servers.stop();
}

void main();
