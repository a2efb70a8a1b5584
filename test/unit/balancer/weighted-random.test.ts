import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { weightedRandom } from '../../../src/balancer/weighted-random';
import { CALL, call, endpoint, endpoints, histogram, pickMany, seeded } from './helpers';

describe('weightedRandom', () => {
  test('is named weighted_random', () => {
    assert.equal(weightedRandom().name, 'weighted_random');
  });

  test('1:2:3:4 shares within 1% over 100,000 seeded picks', () => {
    const list = endpoints([1, 2, 3, 4]);
    const counts = histogram(pickMany(weightedRandom({ random: seeded(42) }).build(list), 100_000));
    list.forEach((e, i) => {
      const share = (counts.get(e.address) ?? 0) / 100_000;
      assert.ok(Math.abs(share - (i + 1) / 10) < 0.01, `${e.address}: ${share}`);
    });
  });

  test('unbiased for many uneven weights (chi-square)', () => {
    const weights = Array.from({ length: 50 }, (_, i) => 1 + ((i * 37) % 97));
    const total = weights.reduce((a, b) => a + b, 0);
    const list = endpoints(weights);
    const picks = 500_000;
    const counts = histogram(pickMany(weightedRandom({ random: seeded(9) }).build(list), picks));
    let chi2 = 0;
    list.forEach((e, i) => {
      const expected = (picks * weights[i]) / total;
      chi2 += ((counts.get(e.address) ?? 0) - expected) ** 2 / expected;
    });
    // 49 degrees of freedom: mean 49, standard deviation 9.9; a biased table lands far above.
    assert.ok(chi2 < 49 + 6 * 9.9, `chi-square ${chi2.toFixed(1)}`);
  });

  test('one random number per pick', () => {
    let draws = 0;
    const random = seeded(3);
    const picker = weightedRandom({ random: () => (draws++, random()) }).build(endpoints([1, 5, 2]));
    pickMany(picker, 1000);
    assert.equal(draws, 1000);
  });

  test('a random source that returns 1 does not break the pick', () => {
    const list = endpoints([1, 2]);
    assert.ok(list.includes(weightedRandom({ random: () => 1 }).build(list).pick(CALL)!));
  });

  test('exclude: draws among the untried in proportion to weight; all tried still picks', () => {
    const list = endpoints([1, 2, 3, 4]);
    const picker = weightedRandom({ random: seeded(5) }).build(list);
    const counts = histogram(pickMany(picker, 60_000, call({ exclude: new Set([list[3].address]) })));
    assert.equal(counts.get(list[3].address), undefined);
    for (let i = 0; i < 3; i++) {
      const share = (counts.get(list[i].address) ?? 0) / 60_000;
      assert.ok(Math.abs(share - (i + 1) / 6) < 0.01, `${list[i].address}: ${share}`);
    }
    // The tried endpoints hold nearly all the weight: rejection gives up and the weighted scan decides.
    const skewed = endpoints([1, 1000, 1000, 3]);
    const skewedCounts = histogram(
      pickMany(weightedRandom({ random: seeded(6) }).build(skewed), 4000, call({ exclude: new Set([skewed[1].address, skewed[2].address]) })),
    );
    assert.equal((skewedCounts.get(skewed[0].address) ?? 0) + (skewedCounts.get(skewed[3].address) ?? 0), 4000);
    assert.ok(Math.abs((skewedCounts.get(skewed[3].address) ?? 0) / 4000 - 0.75) < 0.03);
    assert.ok(list.includes(picker.pick(call({ exclude: new Set(list.map((e) => e.address)) }))!));
  });

  test('weight ≤ 0 takes no calls', () => {
    const list = [endpoint('a:1', 0), endpoint('b:1', 1), endpoint('c:1', -1), endpoint('d:1', 1)];
    const counts = histogram(pickMany(weightedRandom({ random: seeded(1) }).build(list), 1000));
    assert.deepEqual([...counts.keys()].sort(), ['b:1', 'd:1']);
  });

  test('bad options throw a TypeError naming the field', () => {
    assert.throws(() => weightedRandom({ random: 'x' as unknown as () => number }), { name: 'TypeError', message: /options\.random/ });
  });
});
