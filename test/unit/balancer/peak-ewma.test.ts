import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { peakEwma } from '../../../src/balancer/peak-ewma';
import type { Picker } from '../../../src/balancer/types';
import { CALL, call, endpoints, histogram, pickMany, seeded, type TestEndpoint } from './helpers';

/** Sends `count` calls; each stays in flight for a time ∝ its endpoint's latency. Returns picks per address. */
function simulate(picker: Picker<TestEndpoint>, count: number, random: () => number): Map<string, number> {
  const open: { endpoint: TestEndpoint; until: number }[] = [];
  const picks: string[] = [];
  for (let now = 0; now < count; now++) {
    for (let i = open.length - 1; i >= 0; i--) {
      if (open[i].until <= now) {
        open[i].endpoint.inflight--;
        open.splice(i, 1);
      }
    }
    const endpoint = picker.pick(CALL)!;
    endpoint.inflight++;
    // One call per ms arrives; a call lasts its endpoint's latency, jittered.
    open.push({ endpoint, until: now + (endpoint.latencyEwmaMs ?? 10) * (0.5 + random()) });
    picks.push(endpoint.address);
  }
  return histogram(picks);
}

describe('peakEwma', () => {
  test('is named peak_ewma', () => {
    assert.equal(peakEwma().name, 'peak_ewma');
  });

  test('avoids a slow endpoint', () => {
    const list = endpoints([1, 1, 1, 1, 1, 1]);
    list.forEach((e, i) => (e.latencyEwmaMs = i === 2 ? 400 : 10));
    const counts = simulate(peakEwma({ random: seeded(1) }).build(list), 20_000, seeded(2));
    assert.ok((counts.get(list[2].address) ?? 0) < 20_000 * 0.01, `slow endpoint got ${counts.get(list[2].address)}`);
  });

  test('an endpoint that turns slow is avoided within a few calls', () => {
    const list = endpoints([1, 1, 1, 1, 1, 1]);
    list.forEach((e) => (e.latencyEwmaMs = 10));
    const picker = peakEwma({ random: seeded(3) }).build(list);
    const before = simulate(picker, 3000, seeded(4)).get(list[0].address) ?? 0;
    assert.ok(before > 3000 * 0.1, `before: ${before}`);
    list[0].latencyEwmaMs = 300;
    const after = histogram(pickMany(picker, 1000)).get(list[0].address) ?? 0;
    // Its calls in flight are still the old, fast ones, yet it already costs 30 × more: it is
    // taken only when both draws land on it (1 in 216).
    assert.ok(after < 1000 * 0.015, `after: ${after}`);
  });

  test('the cost is latency × (in flight + 1): a fast endpoint is used until its queue evens it out', () => {
    const list = endpoints([1, 1]);
    list[0].latencyEwmaMs = 10;
    list[1].latencyEwmaMs = 30;
    const picker = peakEwma({ random: seeded(5) }).build(list);
    for (let i = 0; i < 400; i++) (picker.pick(CALL) as TestEndpoint).inflight++;
    const ratio = (list[0].inflight + 1) / (list[1].inflight + 1);
    assert.ok(ratio > 2.7 && ratio < 3.3, `inflight ${list[0].inflight}:${list[1].inflight}`);
  });

  test('a new endpoint without a latency sample gets tried', () => {
    const list = endpoints([1, 1, 1, 1, 1]);
    list.forEach((e, i) => {
      e.inflight = 2;
      if (i > 0) e.latencyEwmaMs = 20;
    });
    list[0].inflight = 0;
    const counts = histogram(pickMany(peakEwma({ random: seeded(6) }).build(list), 5000));
    assert.ok((counts.get(list[0].address) ?? 0) > 5000 * 0.3, `new endpoint got ${counts.get(list[0].address)}`);
    const cautious = histogram(pickMany(peakEwma({ random: seeded(6), unknownLatencyMs: 1000 }).build(list), 5000));
    assert.ok((cautious.get(list[0].address) ?? 0) < 5000 * 0.01, 'unknownLatencyMs: 1000 must hold the new endpoint back');
  });

  test('exclude: the cheapest untried endpoint; all tried still picks', () => {
    const list = endpoints(new Array(7).fill(1));
    list.forEach((e, i) => (e.latencyEwmaMs = 10 + i));
    const picker = peakEwma({ random: seeded(7) }).build(list);
    const tried = new Set(list.slice(0, 3).map((e) => e.address));
    const counts = histogram(pickMany(picker, 2000, call({ exclude: tried })));
    for (const address of tried) assert.equal(counts.get(address), undefined);
    assert.ok(list.includes(picker.pick(call({ exclude: new Set(list.map((e) => e.address)) }))!));
  });

  test('bad options throw a TypeError naming the field', () => {
    const bad: [object, RegExp][] = [
      [{ choiceCount: 0 }, /options\.choiceCount/],
      [{ fullScanThreshold: 0.5 }, /options\.fullScanThreshold/],
      [{ unknownLatencyMs: 0 }, /options\.unknownLatencyMs/],
      [{ unknownLatencyMs: Infinity }, /options\.unknownLatencyMs/],
      [{ random: null }, /options\.random/],
    ];
    for (const [options, message] of bad) {
      assert.throws(() => peakEwma(options as never), { name: 'TypeError', message }, JSON.stringify(options));
    }
  });
});
