import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { memoryResolver, orcaWeighted } from '../../src';
import { eventually, sleep, testBed, unary, type Echo } from '../helpers/calls';
import { startLoadReportServer, type LoadReportServer } from '../helpers/load-report-server';

const { client, closeLater } = testBed();

async function servers(loads: number[], outOfBand = false): Promise<LoadReportServer[]> {
  const started = await Promise.all(loads.map((utilization, i) => startLoadReportServer(`r${i}`, { utilization, qps: 100 }, { outOfBand })));
  for (const s of started) closeLater(() => s.forceStop());
  return started;
}

/**
 * Keeps `concurrency` calls going until `calls` have been made and at least `ms` have passed
 * (counts, not time, decide the figures: the machine may be slow); how many each server answered.
 */
async function load(c: Echo, calls: number, ms = 0, concurrency = 4): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const until = Date.now() + ms;
  let made = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (made < calls || Date.now() < until) {
        made++;
        const reply = await unary(c, { message: 'x' });
        counts[reply.server] = (counts[reply.server] ?? 0) + 1;
      }
    }),
  );
  return counts;
}

function shares(counts: Record<string, number>, names: string[]): number[] {
  const total = names.reduce((sum, n) => sum + (counts[n] ?? 0), 0);
  return names.map((n) => (counts[n] ?? 0) / total);
}

function assertNear(actual: number[], expected: number[], tolerance: number): void {
  actual.forEach((a, i) =>
    assert.ok(Math.abs(a - expected[i]) <= tolerance, `shares ${actual.map((x) => x.toFixed(3))} instead of about ${expected.map((x) => x.toFixed(3))}`),
  );
}

describe('orcaWeighted over real grpc-js servers that report their load', () => {
  test('per-call reports: the spread converges to qps / utilization (4 : 2 : 1)', async () => {
    const s = await servers([0.2, 0.4, 0.8]);
    const registry = memoryResolver();
    registry.set('echo', s.map((x) => x.address));
    const c = client({ resolver: registry, service: 'echo', balancer: orcaWeighted({ blackoutPeriodMs: 300, weightUpdatePeriodMs: 100 }) });
    await eventually(() => c.endpoints().filter((e) => e.available).length === 3);
    await load(c, 100, 600);
    assertNear(shares(await load(c, 700), ['r0', 'r1', 'r2']), [4 / 7, 2 / 7, 1 / 7], 0.03);
  });

  test("a gRPC service config's weighted_round_robin weighs by the same reports", async () => {
    const s = await servers([0.25, 0.75]);
    const registry = memoryResolver();
    registry.set('echo', s.map((x) => x.address));
    const serviceConfig = { loadBalancingConfig: [{ weighted_round_robin: { blackoutPeriod: '0s', weightUpdatePeriod: '0.1s' } }] };
    const c = client({ resolver: registry, service: 'echo', serviceConfig });
    await eventually(() => c.endpoints().filter((e) => e.available).length === 2);
    await load(c, 100, 300);
    assertNear(shares(await load(c, 400), ['r0', 'r1']), [0.75, 0.25], 0.03);
  });

  test('per-call reports: when a server reports more load, its share falls', async () => {
    const s = await servers([0.5, 0.5]);
    const registry = memoryResolver();
    registry.set('echo', s.map((x) => x.address));
    const c = client({ resolver: registry, service: 'echo', balancer: orcaWeighted({ blackoutPeriodMs: 0, weightUpdatePeriodMs: 100 }) });
    await eventually(() => c.endpoints().filter((e) => e.available).length === 2);
    await load(c, 100, 200);
    assertNear(shares(await load(c, 400), ['r0', 'r1']), [0.5, 0.5], 0.03);
    s[1].report({ utilization: 0.5, qps: 100, eps: 100 }); // errors count as load: weight 100 / (0.5 + 1) vs 200
    await load(c, 100, 300);
    assertNear(shares(await load(c, 800), ['r0', 'r1']), [0.75, 0.25], 0.03);
  });

  test('out-of-band reports (ServerMetricRecorder) weigh the same; a server without the service gets the mean', async () => {
    const s = await servers([0.2, 0.8], true);
    const plain = await startLoadReportServer('plain', { utilization: 0.01, qps: 100 });
    closeLater(() => plain.forceStop());
    const registry = memoryResolver();
    registry.set('echo', [...s.map((x) => x.address), plain.address]);
    const balancer = orcaWeighted({ enableOobLoadReport: true, oobReportingPeriodMs: 100, blackoutPeriodMs: 300, weightUpdatePeriodMs: 100 });
    const c = client({ resolver: registry, service: 'echo', balancer });
    await eventually(() => c.endpoints().filter((e) => e.available).length === 3);
    await eventually(() => s.every((x) => x.reportStreams === 1), 5000, 'a report stream to each reporting server');
    await sleep(500);
    await load(c, 100, 300);
    // Weights 500 and 125 (mean 312.5 for the silent one): shares 500 : 125 : 312.5. The per-call
    // trailers of "plain" (utilization 0.01) are not read in out-of-band mode.
    assertNear(shares(await load(c, 800), ['r0', 'r1', 'plain']), [500 / 937.5, 125 / 937.5, 312.5 / 937.5], 0.05);
  });

  test('one out-of-band stream per endpoint, ended by close()', async () => {
    const s = await servers([0.5, 0.5], true);
    const registry = memoryResolver();
    registry.set('echo', s.map((x) => x.address));
    const c = client({ resolver: registry, service: 'echo', balancer: orcaWeighted({ enableOobLoadReport: true, oobReportingPeriodMs: 50 }) });
    await eventually(() => s.every((x) => x.reportStreams === 1), 5000, 'a report stream to each server');
    await sleep(200);
    assert.deepEqual(s.map((x) => x.reportStreams), [1, 1]);
    c.close();
    // A stream left open would keep each endpoint's connection, and the process, alive.
    await eventually(() => s.every((x) => x.reportStreams === 0), 5000, 'report streams cancelled');
  });
});

