import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as balancers from '../../../src/balancer';
import type { Balancer } from '../../../src/balancer';
import { CALL, call, endpoint, endpoints, histogram, pickMany, seeded } from './helpers';

const factories: [string, (random: () => number) => Balancer][] = [
  ['weighted_round_robin', (random) => balancers.weightedRoundRobin({ random })],
  ['weighted_random', (random) => balancers.weightedRandom({ random })],
  ['consistent_hash', (random) => balancers.consistentHash({ random })],
  ['consistent_hash', (random) => balancers.consistentHash({ random, loadFactor: 1.25 })],
  ['least_connection', (random) => balancers.leastConnection({ random })],
  ['least_connection', (random) => balancers.leastConnection({ random, fullScanThreshold: 100 })],
  ['peak_ewma', (random) => balancers.peakEwma({ random })],
  ['slow_start(weighted_round_robin)', (random) => balancers.slowStart({ balancer: balancers.weightedRoundRobin({ random }) })],
  ['slow_start(least_connection)', (random) => balancers.slowStart({ balancer: balancers.leastConnection({ random }) })],
  ['orca_weighted(weighted_round_robin)', (random) => balancers.orcaWeighted({ balancer: balancers.weightedRoundRobin({ random }) })],
  ['locality_aware(weighted_random)', (random) => balancers.localityAware({ zone: 'a', random, balancer: balancers.weightedRandom({ random }) })],
];

describe('every balancer', () => {
  for (const [name, make] of factories) {
    describe(name, () => {
      test('has its name', () => {
        assert.equal(make(Math.random).name, name);
      });

      test('honours exclude while another endpoint remains, then picks among all', () => {
        const list = endpoints([3, 1, 2, 1, 5, 1, 1, 2]);
        list.forEach((e, i) => {
          e.inflight = i % 3;
          e.latencyEwmaMs = 5 + i;
        });
        const picker = make(seeded(1)).build(list);
        for (let excluded = 1; excluded < list.length; excluded++) {
          const exclude = new Set(list.slice(0, excluded).map((e) => e.address));
          for (let i = 0; i < 200; i++) {
            const picked = picker.pick(call({ exclude, hashKey: `key-${i}` }));
            assert.ok(picked !== undefined && !exclude.has(picked.address), `${excluded} excluded: picked ${picked?.address}`);
          }
        }
        const all = new Set([...list.map((e) => e.address), 'elsewhere:1']);
        for (let i = 0; i < 50; i++) assert.ok(list.includes(picker.pick(call({ exclude: all, hashKey: `key-${i}` }))!));
      });

      test('gives undefined with nothing to pick, and the one endpoint when there is one', () => {
        assert.equal(make(seeded(2)).build([]).pick(CALL), undefined);
        assert.equal(make(seeded(2)).build([endpoint('a:1', 0), endpoint('b:1', -1)]).pick(CALL), undefined);
        const only = endpoint('c:1', Number.NaN);
        const picker = make(seeded(2)).build([endpoint('a:1', 0), only]);
        assert.equal(picker.pick(CALL), only);
        assert.equal(picker.pick(call({ exclude: new Set(['c:1']), hashKey: 'k' })), only);
      });

      test('never picks an endpoint of weight ≤ 0, and reaches every other one', () => {
        const list = [endpoint('a:1', 0), ...endpoints([1, 1, 1, 1, 1, 1]), endpoint('z:1', -2)];
        const seen = histogram(
          Array.from({ length: 3000 }, (_, i) => make(seeded(i + 1)).build(list).pick(call({ hashKey: `k${i}` }))!.address),
        );
        assert.equal(seen.has('a:1') || seen.has('z:1'), false);
        assert.equal(seen.size, 6);
      });

      test('a built picker does not depend on the array it was built from', () => {
        const list = endpoints([1, 2, 3]);
        const picker = make(seeded(3)).build(list);
        const copy = [...list];
        list.length = 0;
        assert.ok(pickMany(picker, 30, call({ hashKey: 'k' })).every((address) => copy.some((e) => e.address === address)));
      });

      test('rejects a random source that is not a function', () => {
        assert.throws(() => make(5 as unknown as () => number), { name: 'TypeError', message: /options\.random/ });
      });
    });
  }

  test('the index re-exports the five factories', () => {
    assert.deepEqual(
      ['weightedRoundRobin', 'weightedRandom', 'consistentHash', 'leastConnection', 'peakEwma'].map((k) => typeof (balancers as Record<string, unknown>)[k]),
      ['function', 'function', 'function', 'function', 'function'],
    );
  });
});
