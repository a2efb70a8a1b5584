import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_CYCLE, cycleWeights, weightedRoundRobin } from '../../../src/balancer/weighted-round-robin';
import { CALL, call, endpoint, endpoints, histogram, longestCyclicRun, pickMany, seeded } from './helpers';

describe('weightedRoundRobin', () => {
  test('is named weighted_round_robin', () => {
    assert.equal(weightedRoundRobin().name, 'weighted_round_robin');
  });

  test('1:2:3:4 is exact over every cycle, from any start', () => {
    const list = endpoints([1, 2, 3, 4]);
    for (let seed = 1; seed <= 20; seed++) {
      const picker = weightedRoundRobin({ random: seeded(seed) }).build(list);
      const picks = pickMany(picker, 10 * 30);
      for (let cycle = 0; cycle < 30; cycle++) {
        const counts = histogram(picks.slice(cycle * 10, cycle * 10 + 10));
        assert.deepEqual(
          list.map((e) => counts.get(e.address) ?? 0),
          [1, 2, 3, 4],
          `seed ${seed}, cycle ${cycle}`,
        );
      }
    }
  });

  test('5:1:1 is smooth: the heavy endpoint never runs 5 (not even 4) in a row', () => {
    const list = endpoints([5, 1, 1]);
    for (let seed = 1; seed <= 20; seed++) {
      const picks = pickMany(weightedRoundRobin({ random: seeded(seed) }).build(list), 7 * 20);
      assert.ok(longestCyclicRun(picks, list[0].address) <= 3, `seed ${seed}: ${picks.slice(0, 14).join(' ')}`);
      assert.equal(histogram(picks).get(list[0].address), 5 * 20);
    }
  });

  test('every endpoint stays within one pick of its exact share at every point', () => {
    const random = seeded(7);
    for (let trial = 0; trial < 30; trial++) {
      const n = 2 + Math.floor(random() * 40);
      const weights = Array.from({ length: n }, () => 1 + Math.floor(random() * 30));
      const total = weights.reduce((a, b) => a + b, 0);
      const list = endpoints(weights);
      const index = new Map(list.map((e, i) => [e.address, i]));
      const picker = weightedRoundRobin({ random: () => 0 }).build(list);
      const counts = new Array<number>(n).fill(0);
      for (let t = 1; t <= 2 * total; t++) {
        counts[index.get(picker.pick(CALL)!.address)!]++;
        for (let i = 0; i < n; i++) {
          const lag = counts[i] - (t * weights[i]) / total;
          assert.ok(lag < 1 && lag > -1, `trial ${trial}, endpoint ${i}, slot ${t}: lag ${lag}`);
        }
      }
    }
  });

  test('pickers with different random sources start at different positions', () => {
    const list = endpoints(new Array(100).fill(1));
    const first = (seed: number) => weightedRoundRobin({ random: seeded(seed) }).build(list).pick(CALL)!.address;
    assert.notEqual(first(1), first(2));
    const starts = new Set<string>();
    for (let seed = 1; seed <= 50; seed++) starts.add(first(seed));
    assert.ok(starts.size >= 30, `only ${starts.size} distinct first endpoints out of 50 pickers`);
  });

  test('a long cycle of large coprime weights is exact without a slow build', () => {
    const weights = Array.from({ length: 10_000 }, (_, i) => 97 + (i % 4));
    const total = weights.reduce((a, b) => a + b, 0);
    assert.ok(total <= MAX_CYCLE);
    const list = endpoints(weights);
    const started = performance.now();
    const picker = weightedRoundRobin({ random: seeded(3) }).build(list);
    assert.ok(performance.now() - started < 200, 'build must not schedule the whole cycle up front');
    const counts = histogram(pickMany(picker, total));
    for (let i = 0; i < list.length; i += 997) assert.equal(counts.get(list[i].address), weights[i]);
  });

  test('cycle weights: reduced by their gcd, decimals made whole, bounded length', () => {
    assert.deepEqual([...cycleWeights(Float64Array.from([100, 200, 300]))], [1, 2, 3]);
    assert.deepEqual([...cycleWeights(Float64Array.from([0.5, 1.5]))], [1, 3]);
    assert.deepEqual([...cycleWeights(Float64Array.from([0.3, 0.7]))], [3, 7]);
    const huge = cycleWeights(Float64Array.from([1e9, 3e9 + 1, 7]));
    const total = huge.reduce((a, b) => a + b, 0);
    assert.ok(total <= MAX_CYCLE + 3, `cycle of ${total} slots`);
    assert.ok(Math.abs(huge[1] / huge[0] - 3) < 1e-5);
    assert.equal(huge[2], 1);
  });

  test('weight ≤ 0 takes no calls; missing or NaN weight counts as 1', () => {
    const list = [
      endpoint('a:1', 0),
      endpoint('b:1', -3),
      endpoint('c:1', Number.NaN),
      { address: 'd:1', tags: {}, inflight: 0 } as unknown as ReturnType<typeof endpoint>,
      endpoint('e:1', 2),
    ];
    const counts = histogram(pickMany(weightedRoundRobin().build(list), 400));
    assert.equal(counts.get('a:1'), undefined);
    assert.equal(counts.get('b:1'), undefined);
    assert.equal(counts.get('c:1'), 100);
    assert.equal(counts.get('d:1'), 100);
    assert.equal(counts.get('e:1'), 200);
  });

  test('nothing to pick: no endpoints, or none of positive weight', () => {
    assert.equal(weightedRoundRobin().build([]).pick(CALL), undefined);
    assert.equal(weightedRoundRobin().build([endpoint('a:1', 0)]).pick(CALL), undefined);
  });

  test('one endpoint is always picked, excluded or not', () => {
    const only = endpoint('a:1', 3);
    const picker = weightedRoundRobin().build([only, endpoint('b:1', 0)]);
    assert.equal(picker.pick(CALL), only);
    assert.equal(picker.pick(call({ exclude: new Set(['a:1']) })), only);
  });

  test('exclude: tried endpoints are avoided while another remains, all-excluded still picks', () => {
    const list = endpoints([5, 1, 1, 3]);
    const picker = weightedRoundRobin({ random: seeded(11) }).build(list);
    const tried = new Set([list[0].address, list[3].address]);
    const counts = histogram(pickMany(picker, 200, call({ exclude: tried })));
    assert.equal(counts.get(list[0].address), undefined);
    assert.equal(counts.get(list[3].address), undefined);
    assert.ok((counts.get(list[1].address) ?? 0) > 50 && (counts.get(list[2].address) ?? 0) > 50);
    const all = new Set(list.map((e) => e.address));
    assert.ok(list.includes(picker.pick(call({ exclude: all }))!));
  });

  test('a retry takes one slot and leaves the order other calls see unchanged', () => {
    const list = endpoints([1, 2, 3, 4]);
    const plain = pickMany(weightedRoundRobin({ random: seeded(5) }).build(list), 300);
    const picker = weightedRoundRobin({ random: seeded(5) }).build(list);
    const retry = call({ exclude: new Set([list[3].address, list[2].address]) });
    for (let i = 0; i < 300; i++) {
      if (i % 3 === 2) {
        assert.ok(!retry.exclude!.has(picker.pick(retry)!.address));
      } else {
        assert.equal(picker.pick(CALL)!.address, plain[i], `pick ${i}`);
      }
    }
  });

  test('bad options throw a TypeError naming the field', () => {
    assert.throws(() => weightedRoundRobin({ random: 5 as unknown as () => number }), {
      name: 'TypeError',
      message: /options\.random/,
    });
    assert.throws(() => weightedRoundRobin(null as unknown as undefined), { name: 'TypeError', message: /options/ });
  });
});
