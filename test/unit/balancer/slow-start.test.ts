import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { leastConnection } from '../../../src/balancer/least-connection';
import { slowStart, slowStartFactor } from '../../../src/balancer/slow-start';
import { weightedRandom } from '../../../src/balancer/weighted-random';
import { weightedRoundRobin } from '../../../src/balancer/weighted-round-robin';
import type { Balancer, Endpoint, Picker } from '../../../src/balancer/types';
import { CALL, endpoints, histogram, pickMany, seeded, type TestEndpoint } from './helpers';

const WINDOW = 10_000;

/** A clock the test moves by hand. */
function clock(start = 1_000_000): { now: () => number; advance(ms: number): void; set(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms), set: (ms) => (t = ms) };
}

function share(picker: Picker<TestEndpoint>, address: string, picks: number): number {
  return (histogram(pickMany(picker, picks)).get(address) ?? 0) / picks;
}

describe('slowStart', () => {
  test("Envoy's curve: linear by default, shaped by aggression, never below the floor", () => {
    const ramp = { windowMs: 100, exponent: 1, floor: 0.1 };
    assert.equal(slowStartFactor(0, ramp), 0.1);
    assert.equal(slowStartFactor(50, ramp), 0.5);
    assert.equal(slowStartFactor(100, ramp), 1);
    assert.equal(slowStartFactor(1e9, ramp), 1);
    const aggressive = { windowMs: 100, exponent: 1 / 2, floor: 0.1 };
    assert.ok(Math.abs(slowStartFactor(25, aggressive) - 0.5) < 1e-12);
    const gentle = { windowMs: 100, exponent: 2, floor: 0.01 };
    assert.ok(Math.abs(slowStartFactor(50, gentle) - 0.25) < 1e-12);
  });

  for (const [name, make] of [
    ['weighted round robin', () => weightedRoundRobin({ random: seeded(1) })],
    ['weighted random', () => weightedRandom({ random: seeded(2) })],
  ] as [string, () => Balancer][]) {
    test(`under ${name}, a joining endpoint's share follows the ramp and reaches 1/n`, () => {
      const time = clock();
      const balancer = slowStart({ balancer: make(), windowMs: WINDOW, now: time.now });
      const list = endpoints([1, 1, 1, 1]);
      balancer.build(list.slice(0, 3));
      time.advance(60_000);
      const picker = balancer.build(list);
      const joining = list[3].address;
      // factor f: share f / (3 + f)
      for (const [at, factor] of [
        [0, 0.1],
        [2_500, 0.25],
        [5_000, 0.5],
        [7_500, 0.75],
      ] as const) {
        time.set(1_000_000 + 60_000 + at);
        pickMany(picker, 50); // lets the picker notice the time
        const expected = factor / (3 + factor);
        const seen = share(picker, joining, 40_000);
        assert.ok(Math.abs(seen - expected) < 0.012, `at ${at} ms: share ${seen.toFixed(4)}, expected ${expected.toFixed(4)}`);
      }
      time.set(1_000_000 + 60_000 + WINDOW + 1);
      pickMany(picker, 50);
      assert.ok(Math.abs(share(picker, joining, 40_000) - 0.25) < 0.012);
    });
  }

  test('under least connection, the joining endpoint holds in-flight calls in proportion to its ramped weight', () => {
    const time = clock();
    const balancer = slowStart({ balancer: leastConnection({ random: seeded(3), fullScanThreshold: 100 }), windowMs: WINDOW, now: time.now });
    const list = endpoints([1, 1, 1, 1, 1]);
    balancer.build(list.slice(0, 4));
    time.advance(60_000);
    const picker = balancer.build(list);
    time.advance(WINDOW * 0.4);
    pickMany(picker, 50);
    for (const e of list) e.inflight = 0;
    for (let i = 0; i < 4000; i++) (picker.pick(CALL) as TestEndpoint).inflight++;
    const ratio = list[4].inflight / list[0].inflight;
    assert.ok(ratio > 0.33 && ratio < 0.47, `joining / settled in flight ${ratio.toFixed(3)}, expected about 0.4`);
  });

  test('an endpoint back after an absence ramps again; those present throughout do not', () => {
    const time = clock();
    const balancer = slowStart({ balancer: weightedRoundRobin({ random: seeded(4) }), windowMs: WINDOW, now: time.now });
    const list = endpoints([1, 1, 1]);
    balancer.build(list);
    time.advance(60_000);
    balancer.build(list.slice(0, 2)); // list[2] ejected
    time.advance(1_000);
    const picker = balancer.build(list); // back
    time.advance(WINDOW / 2);
    pickMany(picker, 50);
    const counts = histogram(pickMany(picker, 30_000));
    const back = counts.get(list[2].address)! / 30_000;
    assert.ok(Math.abs(back - 0.5 / 2.5) < 0.012, `returning endpoint share ${back}`);
    assert.ok(Math.abs(counts.get(list[0].address)! / 30_000 - 1 / 2.5) < 0.012);
  });

  test('endpoints that arrive together ramp together: no share changes at start-up, and then the plain picker', () => {
    const time = clock();
    const balancer = slowStart({ balancer: weightedRoundRobin({ random: seeded(5) }), windowMs: WINDOW, now: time.now });
    const list = endpoints([1, 3]);
    const picker = balancer.build(list);
    const counts = histogram(pickMany(picker, 4000));
    assert.equal(counts.get(list[1].address), 3000);
    time.advance(WINDOW + 1);
    // The switch to the plain picker restarts the cycle at a random slot: one pick of slack.
    assert.ok(Math.abs(histogram(pickMany(picker, 4000)).get(list[1].address)! - 3000) <= 1);
    // Past the window, a rebuild returns the inner balancer's own picker.
    assert.equal(balancer.build(list).constructor.name, weightedRoundRobin().build(list).constructor.name);
  });

  test('clients sharing one balancer do not disturb each other', () => {
    const time = clock();
    const balancer = slowStart({ balancer: weightedRoundRobin({ random: seeded(6) }), windowMs: WINDOW, now: time.now });
    const first = endpoints([1, 1]);
    const second = endpoints([1, 1, 1]);
    balancer.build(first);
    time.advance(60_000);
    balancer.build(second);
    time.advance(1_000);
    // first's endpoints were never away from first's picker: no ramp.
    const counts = histogram(pickMany(balancer.build(first), 2000));
    assert.deepEqual([...counts.values()], [1000, 1000]);
  });

  test('the inner balancer gets the endpoints themselves, and views only of those behind the rest', () => {
    const time = clock();
    const given: (readonly Endpoint[])[] = [];
    const inner = weightedRandom({ random: seeded(7) });
    const recording: Balancer = { name: 'recording', build: (list) => (given.push(list), inner.build(list)) };
    const balancer = slowStart({ balancer: recording, windowMs: WINDOW, now: time.now });
    const list = endpoints([1, 1, 1, 1, 2]);
    balancer.build(list.slice(0, 3));
    time.advance(WINDOW / 2);
    const picker = balancer.build(list);
    const last = given[given.length - 1];
    // The three present from the start lead at factor 0.5; the two new ones start at 0.1.
    assert.deepEqual(last.slice(0, 3), list.slice(0, 3));
    assert.notEqual(last[3], list[3]);
    assert.equal(last[3].weight, 0.2);
    assert.equal(last[4].weight, 0.4);
    const counts = histogram(pickMany(picker, 40_000));
    // Shares 0.5 : 0.5 : 0.5 : 0.1 : 0.2, and every pick is one of the caller's own objects.
    assert.ok(Math.abs(counts.get(list[4].address)! / 40_000 - 0.2 / 1.8) < 0.01);
    for (let i = 0; i < 1000; i++) assert.ok(list.includes(picker.pick(CALL) as TestEndpoint));
  });

  test('endpoints that arrived together are handed over as they are, from the first build', () => {
    const given: (readonly Endpoint[])[] = [];
    const inner = weightedRoundRobin({ random: seeded(8) });
    const balancer = slowStart({ balancer: { name: 'recording', build: (list) => (given.push(list), inner.build(list)) }, windowMs: WINDOW, now: clock().now });
    const list = endpoints([1, 2, 3]);
    balancer.build(list);
    assert.equal(given.length, 1);
    assert.deepEqual(given[0], list);
  });

  test('nested slow starts hand back the caller\'s own endpoints', () => {
    const time = clock();
    const balancer = slowStart({ balancer: slowStart({ balancer: weightedRandom({ random: seeded(9) }), windowMs: WINDOW / 2, now: time.now }), windowMs: WINDOW, now: time.now });
    const list = endpoints([1, 1, 1]);
    balancer.build(list.slice(0, 2));
    time.advance(WINDOW / 4);
    const picker = balancer.build(list);
    const seen = new Set<Endpoint>();
    for (let i = 0; i < 2000; i++) seen.add(picker.pick(CALL)!);
    assert.deepEqual([...seen].sort((a, b) => a.address.localeCompare(b.address)), list);
  });

  test('rejects bad options with errors naming them', () => {
    assert.throws(() => slowStart({ windowMs: 2 ** 31 }), { name: 'RangeError', message: /slowStart: options\.windowMs/ });
    assert.throws(() => slowStart({ windowMs: 0 }), /windowMs/);
    assert.throws(() => slowStart({ aggression: 0 }), /options\.aggression/);
    assert.throws(() => slowStart({ minWeightPercent: 120 }), /options\.minWeightPercent must be a number in \(0, 100\]/);
    assert.throws(() => slowStart({ balancer: {} as Balancer }), /options\.balancer/);
    assert.throws(() => slowStart({ now: 5 as unknown as () => number }), /options\.now/);
  });
});
