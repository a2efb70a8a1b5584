import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Metadata } from '@grpc/grpc-js';
import { orcaWeighted, reportWeight } from '../../../src/balancer/orca-weighted';
import { loadReportOf, type LoadReport } from '../../../src/balancer/orca-report';
import { slowStart } from '../../../src/balancer/slow-start';
import { weightedRoundRobin } from '../../../src/balancer/weighted-round-robin';
import type { Endpoint } from '../../../src/balancer/types';
import { endpoints, histogram, pickMany, seeded } from './helpers';

// grpc-js's own per-call recorder, as a server uses it: the trailer bytes are the real encoding.
const { PerRequestMetricRecorder } = require('@grpc/grpc-js/build/src/orca') as {
  PerRequestMetricRecorder: new () => {
    recordApplicationUtilizationMetric(v: number): void;
    recordCPUUtilizationMetric(v: number): void;
    recordQpsMetric(v: number): void;
    recordEpsMetric(v: number): void;
    serialize(): Buffer;
  };
};

function trailers(report: { app?: number; cpu?: number; qps?: number; eps?: number }): Metadata {
  const recorder = new PerRequestMetricRecorder();
  if (report.app !== undefined) recorder.recordApplicationUtilizationMetric(report.app);
  if (report.cpu !== undefined) recorder.recordCPUUtilizationMetric(report.cpu);
  if (report.qps !== undefined) recorder.recordQpsMetric(report.qps);
  if (report.eps !== undefined) recorder.recordEpsMetric(report.eps);
  const metadata = new Metadata();
  metadata.set('endpoint-load-metrics-bin', recorder.serialize());
  return metadata;
}

function clock(): { now: () => number; advance(ms: number): void } {
  let t = 5_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

/** Runs one attempt through the balancer's middleware, as the client does, with these trailers. */
async function report(balancer: ReturnType<typeof orcaWeighted>, endpoint: Endpoint, metadata: Metadata): Promise<void> {
  const ctx = { endpoint, status: { metadata } };
  await balancer.middleware(async () => undefined)(ctx);
}

/**
 * Picks enough for the picker to read the clock again: with a clock that stands still between
 * picks, it reads it only every 1,024 picks.
 */
function settle(picker: { pick(info: { method: string }): unknown }): void {
  for (let i = 0; i < 2100; i++) picker.pick({ method: '/test.Echo/Unary' });
}

describe('orcaWeighted', () => {
  test("gRFC A58's weight: qps / (utilization + eps / qps × penalty), application utilization first", () => {
    const r = (x: Partial<LoadReport>): LoadReport => ({ cpuUtilization: 0, applicationUtilization: 0, qps: 0, eps: 0, ...x });
    assert.equal(reportWeight(r({ qps: 100, cpuUtilization: 0.5 }), 1), 200);
    assert.equal(reportWeight(r({ qps: 100, cpuUtilization: 0.5, applicationUtilization: 0.25 }), 1), 400);
    assert.equal(reportWeight(r({ qps: 100, applicationUtilization: 0.5, eps: 50 }), 1), 100);
    assert.equal(reportWeight(r({ qps: 100, applicationUtilization: 0.5, eps: 50 }), 0), 200);
    assert.equal(reportWeight(r({ qps: 0, applicationUtilization: 0.5 }), 1), 0);
    assert.equal(reportWeight(r({ qps: 10 }), 1), 0);
  });

  test('decodes the trailer a grpc-js server sends, and ignores one that does not decode', () => {
    assert.deepEqual(loadReportOf(trailers({ app: 0.5, cpu: 0.7, qps: 123.5, eps: 2 })), {
      cpuUtilization: 0.7,
      applicationUtilization: 0.5,
      qps: 123.5,
      eps: 2,
    });
    const garbage = new Metadata();
    garbage.set('endpoint-load-metrics-bin', Buffer.from([0xff, 0xff, 0xff]));
    assert.equal(loadReportOf(garbage), undefined);
    assert.equal(loadReportOf(new Metadata()), undefined);
  });

  test('after the blackout, the spread follows the reported capacity (qps / utilization)', async () => {
    const time = clock();
    const balancer = orcaWeighted({ balancer: weightedRoundRobin({ random: seeded(1) }), now: time.now, blackoutPeriodMs: 10_000 });
    const list = endpoints([1, 1, 1]);
    const picker = balancer.build(list);
    // Same qps at utilizations 0.2, 0.4, 0.8: weights 5 : 2.5 : 1.25, shares 4/7, 2/7, 1/7.
    const utilization = [0.2, 0.4, 0.8];
    for (let step = 0; step < 12; step++) {
      for (let i = 0; i < 3; i++) await report(balancer, list[i], trailers({ app: utilization[i], qps: 100 }));
      time.advance(1_000);
      settle(picker);
    }
    const counts = histogram(pickMany(picker, 7000));
    // Weights are rounded to 1 % of the mean: within 1 % of the exact shares.
    list.forEach((e, i) => {
      const expected = [4000, 2000, 1000][i];
      assert.ok(Math.abs(counts.get(e.address)! - expected) <= 70, `${list.map((x) => counts.get(x.address))}`);
    });
  });

  test('during the blackout, and with fewer than two weights, every endpoint counts the same', async () => {
    const time = clock();
    const balancer = orcaWeighted({ balancer: weightedRoundRobin({ random: seeded(2) }), now: time.now, blackoutPeriodMs: 10_000 });
    const list = endpoints([1, 1, 1]);
    const picker = balancer.build(list);
    await report(balancer, list[0], trailers({ app: 0.1, qps: 100 }));
    await report(balancer, list[1], trailers({ app: 0.9, qps: 100 }));
    time.advance(5_000);
    settle(picker);
    assert.deepEqual([...histogram(pickMany(picker, 3000)).values()], [1000, 1000, 1000]);
    time.advance(6_000);
    settle(picker);
    // Now two weights (1000 and 111): the silent endpoint gets their mean.
    const counts = histogram(pickMany(picker, 30_000));
    assert.ok(counts.get(list[0].address)! > 5 * counts.get(list[1].address)!, `${[...counts.values()]}`);
  });

  test('weights expire without reports, and are held within 0.1× and 10× the mean', async () => {
    const time = clock();
    const balancer = orcaWeighted({ balancer: weightedRoundRobin({ random: seeded(3) }), now: time.now, blackoutPeriodMs: 0, weightExpirationPeriodMs: 60_000 });
    const list = endpoints([1, 1, 1, 1]);
    const picker = balancer.build(list);
    for (let i = 0; i < 4; i++) await report(balancer, list[i], trailers({ app: i === 0 ? 0.001 : 1, qps: 100 }));
    time.advance(1_000);
    settle(picker);
    const counts = histogram(pickMany(picker, 10_000));
    // 100,000 against 100 × 3: clamped to 10× the mean, so not 99.7 % but 10 / 10.3 of the calls... bounded anyway.
    const top = counts.get(list[0].address)! / 10_000;
    assert.ok(top < 0.95 && top > 0.8, `clamped share ${top}`);
    time.advance(61_000);
    settle(picker);
    assert.deepEqual([...histogram(pickMany(picker, 4000)).values()], [1000, 1000, 1000, 1000]);
  });

  test('an endpoint back in the picker after an absence starts its blackout again', async () => {
    const time = clock();
    const balancer = orcaWeighted({ balancer: weightedRoundRobin({ random: seeded(4) }), now: time.now, blackoutPeriodMs: 10_000 });
    const list = endpoints([1, 1, 1]);
    balancer.build(list);
    for (let step = 0; step < 12; step++) {
      for (let i = 0; i < 3; i++) await report(balancer, list[i], trailers({ app: i === 2 ? 0.1 : 0.5, qps: 100 }));
      time.advance(1_000);
    }
    balancer.build(list.slice(0, 2));
    const picker = balancer.build(list);
    await report(balancer, list[2], trailers({ app: 0.1, qps: 100 }));
    time.advance(1_000);
    settle(picker);
    // list[2]'s weight (1000 vs 200) is in blackout again: it gets the mean of the others.
    assert.deepEqual([...histogram(pickMany(picker, 3000)).values()], [1000, 1000, 1000]);
  });

  test('keys state by the real endpoint through wrappers, and wrappers carry its middleware', async () => {
    const time = clock();
    const orca = orcaWeighted({ now: time.now, blackoutPeriodMs: 0 });
    const wrapped = slowStart({ balancer: orca, now: time.now, windowMs: 1 });
    assert.equal((wrapped as { middleware?: unknown }).middleware, orca.middleware);
    const list = endpoints([1, 1]);
    wrapped.build(list);
    time.advance(10);
    const picker = wrapped.build(list);
    await report(orca, list[0], trailers({ app: 0.25, qps: 100 }));
    await report(orca, list[1], trailers({ app: 0.75, qps: 100 }));
    time.advance(2_000);
    settle(picker);
    const counts = histogram(pickMany(picker, 4000));
    assert.ok(Math.abs(counts.get(list[0].address)! - 3000) <= 2, `${[...counts.values()]}`);
  });

  test('an endpoint of configured weight ≤ 0 takes nothing; other configured weights give way to the reports', () => {
    const list = endpoints([0, 5, 1]);
    const counts = histogram(pickMany(orcaWeighted().build(list), 3000));
    assert.equal(counts.has(list[0].address), false);
    assert.deepEqual([...counts.values()], [1500, 1500]);
  });

  test('rejects bad options with errors naming them', () => {
    assert.throws(() => orcaWeighted({ weightUpdatePeriodMs: 10 }), /orcaWeighted: options\.weightUpdatePeriodMs/);
    assert.throws(() => orcaWeighted({ blackoutPeriodMs: 2 ** 31 }), /options\.blackoutPeriodMs/);
    assert.throws(() => orcaWeighted({ errorUtilizationPenalty: -1 }), /errorUtilizationPenalty/);
    assert.throws(() => orcaWeighted({ enableOobLoadReport: 'yes' as unknown as boolean }), /enableOobLoadReport/);
  });
});
