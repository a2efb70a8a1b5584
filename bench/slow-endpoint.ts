// Tail latency when one of four servers is slow (25 ms per call): latency-aware balancers against
// round robin, grpc-js's own included, in one run. Servers run in another process. Two loads:
// open loop at a steady rate (a service's traffic: calls arrive whether or not earlier ones are
// done), and closed loop at a fixed concurrency pushing the client to its limit.
// Goal: p99 under leastConnection and peakEwma at most 0.25 of round robin's.
//
// The servers also report their load the ORCA way (bench/support/load-report-servers.ts), so
// orcaWeighted (per-call trailers and out of band) runs against grpc-js's own weighted_round_robin
// (out of band: its per-call reader re-reads the ORCA proto files on every call) over the same
// servers, all with a 1 s blackout, 100 ms weight updates and 200 ms report periods, and 2 s of
// warm-up per contender and load.
//
//   npm run bench -- slow-endpoint [--seconds 4] [--rate 1000] [--concurrency 16]
import * as grpc from '@grpc/grpc-js';
import { createClient, leastConnection, orcaWeighted, peakEwma, weightedRoundRobin, type Balancer } from '../src';
import { EchoClient, type EchoStub } from '../test/helpers/echo-server';
import { fmt, runLoad, runRate, numericArgs, type LoadResult } from './support/harness';
import { startLoadReportProcess } from './support/load-report-servers';

const { seconds, rate, concurrency } = numericArgs({ seconds: 4, rate: 1000, concurrency: 16 });
const SLOW_MS = 25;
const WARM_MS = 2000;
const ORCA = { blackoutPeriodMs: 1000, weightUpdatePeriodMs: 100, oobReportingPeriodMs: 200 };

async function main(): Promise<void> {
  const servers = await startLoadReportProcess([0, 0, 0, SLOW_MS]);
  const slowAddress = servers.addresses[3];
  const target = `static:///${servers.addresses.join(',')}`;
  const call = (c: EchoStub) => () =>
    new Promise((resolve, reject) => c.unary({ message: 'x' }, (err: Error | null, r: unknown) => (err ? reject(err) : resolve(r))));

  const plain = new EchoClient(`ipv4:${servers.addresses.join(',')}`, grpc.credentials.createInsecure(), {
    'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
  }) as EchoStub;
  const grpcWrr = new EchoClient(`ipv4:${servers.addresses.join(',')}`, grpc.credentials.createInsecure(), {
    'grpc.service_config': JSON.stringify({
      loadBalancingConfig: [
        { weighted_round_robin: { enable_oob_load_report: true, oob_reporting_period: '0.2s', blackout_period: '1s', weight_update_period: '0.1s' } },
      ],
    }),
  }) as EchoStub;
  const contenders: [string, EchoStub, (() => number) | undefined][] = [
    ['grpc-js round_robin', plain, undefined],
    ['grpc-js weighted_rr', grpcWrr, undefined],
  ];
  const balancers: [string, Balancer][] = [
    ['weightedRoundRobin', weightedRoundRobin()],
    ['leastConnection', leastConnection()],
    ['peakEwma', peakEwma()],
    ['orcaWeighted', orcaWeighted(ORCA)],
    ['orcaWeighted (oob)', orcaWeighted({ ...ORCA, enableOobLoadReport: true })],
  ];
  for (const [name, balancer] of balancers) {
    const c = createClient(EchoClient, { target, balancer }) as unknown as EchoStub & { endpoints(): { address: string; calls: number }[] };
    contenders.push([name, c, () => c.endpoints().find((e) => e.address === slowAddress)!.calls]);
  }

  const loads: [string, (c: EchoStub, ms: number) => Promise<LoadResult>][] = [
    [`open loop, ${rate} calls/s`, (c, ms) => runRate(call(c), rate, ms)],
    [`closed loop, ${concurrency} in flight`, (c, ms) => runLoad(call(c), concurrency, ms)],
  ];
  console.log(`unary echo, 4 servers, one ${SLOW_MS} ms slower; ${seconds} s per balancer and load`);
  for (const [title, load] of loads) {
    console.log(title);
    const p99: Record<string, number> = {};
    for (const [name, c, slowCalls] of contenders) {
      await load(c, WARM_MS);
      const before = slowCalls?.() ?? 0;
      const r = await load(c, seconds * 1000);
      const share = slowCalls ? `${fmt((100 * (slowCalls() - before)) / r.calls, 1)} %` : 'n/a';
      p99[name] = r.p99;
      console.log(
        `  ${name.padEnd(20)} ${fmt(r.throughput, 0).padStart(6)} calls/s   p50 ${fmt(r.p50)} ms   p99 ${fmt(r.p99)} ms   to the slow server ${share}`,
      );
    }
    const rr = p99['grpc-js round_robin'];
    const wrr = p99.weightedRoundRobin;
    console.log(
      `  p99 / grpc-js round_robin's: leastConnection ${fmt(p99.leastConnection / rr, 3)}, peakEwma ${fmt(p99.peakEwma / rr, 3)} (goal <= 0.25), weightedRoundRobin ${fmt(wrr / rr, 3)}`,
    );
    console.log(`  p99 / weightedRoundRobin's: leastConnection ${fmt(p99.leastConnection / wrr, 3)}, peakEwma ${fmt(p99.peakEwma / wrr, 3)}`);
    const gw = p99['grpc-js weighted_rr'];
    console.log(
      `  orcaWeighted p99 / grpc-js weighted_rr's: ${fmt(p99.orcaWeighted / gw, 3)} (per call), ${fmt(p99['orcaWeighted (oob)'] / gw, 3)} (out of band); ` +
        `/ peakEwma's: ${fmt(p99.orcaWeighted / p99.peakEwma, 3)}, ${fmt(p99['orcaWeighted (oob)'] / p99.peakEwma, 3)}`,
    );
  }
  for (const [, c] of contenders) c.close();
  servers.stop();
}

void main();
