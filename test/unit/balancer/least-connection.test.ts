import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { leastConnection } from '../../../src/balancer/least-connection';
import { CALL, call, endpoint, endpoints, histogram, pickMany, seeded, type TestEndpoint } from './helpers';

describe('leastConnection', () => {
  test('is named least_connection', () => {
    assert.equal(leastConnection().name, 'least_connection');
  });

  test('two choices avoid the busy endpoint (random would send it 1 call in 10)', () => {
    const list = endpoints(new Array(10).fill(1));
    list[4].inflight = 50;
    for (let i = 0; i < 10; i++) if (i !== 4) list[i].inflight = 1;
    const counts = histogram(pickMany(leastConnection({ random: seeded(1) }).build(list), 20_000));
    assert.ok((counts.get(list[4].address) ?? 0) < 20_000 * 0.005, `busy endpoint got ${counts.get(list[4].address)}`);
  });

  test('between two drawn endpoints the less loaded always wins', () => {
    const list = endpoints([1, 1, 1, 1, 1, 1]);
    list.forEach((e, i) => (e.inflight = i));
    let draws = 0;
    const random = seeded(2);
    const picker = leastConnection({ random: () => (draws++, random()) }).build(list);
    // With all draws recorded we can check the choice: the picked endpoint is never busier than
    // an endpoint that was drawn for the same call.
    const indexOf = new Map(list.map((e, i) => [e as object, i]));
    const counts = new Array<number>(6).fill(0);
    for (let i = 0; i < 6000; i++) counts[indexOf.get(picker.pick(CALL)!)!]++;
    // P(least loaded of 2 distinct of 6 is i) = (5 - i) / 15: decreasing in load.
    for (let i = 0; i < 5; i++) assert.ok(counts[i] > counts[i + 1], `counts ${counts}`);
    assert.ok(counts[5] < 6000 * 0.02, `counts ${counts}`);
    assert.ok(draws >= 2 * 6000 && draws <= 3 * 6000, `draws ${draws}`);
  });

  test('load follows weight: in-flight counts settle at the 1:3 weight ratio', () => {
    const list = [endpoint('a:1', 1), endpoint('b:1', 3), endpoint('c:1', 2), endpoint('d:1', 2), endpoint('e:1', 2)];
    const picker = leastConnection({ random: seeded(3) }).build(list);
    for (let i = 0; i < 2000; i++) (picker.pick(CALL) as TestEndpoint).inflight++;
    const ratio = list[1].inflight / list[0].inflight;
    assert.ok(ratio > 2.7 && ratio < 3.3, `inflight ${list.map((e) => e.inflight)}`);
  });

  test('small sets are scanned whole: always the least loaded', () => {
    const list = endpoints([1, 1, 1, 1]);
    [5, 3, 0, 7].forEach((inflight, i) => (list[i].inflight = inflight));
    const counts = histogram(pickMany(leastConnection({ random: seeded(4) }).build(list), 500));
    assert.deepEqual([...counts.entries()], [[list[2].address, 500]]);
    const sampled = histogram(pickMany(leastConnection({ random: seeded(4), fullScanThreshold: 0 }).build(list), 500));
    assert.ok(sampled.size > 1, 'with the scan off, two choices sometimes miss the least loaded');
  });

  test('ties go by weight', () => {
    const list = endpoints([1, 4, 1, 4, 1, 4, 1, 4]);
    const counts = histogram(pickMany(leastConnection({ random: seeded(5) }).build(list), 40_000));
    const heavy = counts.get(list[1].address)! / counts.get(list[0].address)!;
    assert.ok(heavy > 3.5 && heavy < 4.5, `heavy/light ${heavy}`);
  });

  test('exclude: the least loaded untried endpoint; all tried still picks', () => {
    const list = endpoints(new Array(8).fill(1));
    list.forEach((e, i) => (e.inflight = i));
    const picker = leastConnection({ random: seeded(6), fullScanThreshold: 8 }).build(list);
    assert.equal(picker.pick(call({ exclude: new Set([list[0].address, list[1].address]) })), list[2]);
    const sampled = leastConnection({ random: seeded(6) }).build(list);
    const tried = new Set(list.slice(0, 7).map((e) => e.address));
    assert.deepEqual([...histogram(pickMany(sampled, 300, call({ exclude: tried }))).keys()], [list[7].address]);
    assert.equal(picker.pick(call({ exclude: new Set(list.map((e) => e.address)) })), list[0]);
  });

  test('bad options throw a TypeError naming the field', () => {
    const bad: [object, RegExp][] = [
      [{ choiceCount: 0 }, /options\.choiceCount/],
      [{ choiceCount: 1.5 }, /options\.choiceCount/],
      [{ fullScanThreshold: -1 }, /options\.fullScanThreshold/],
      [{ random: {} }, /options\.random/],
    ];
    for (const [options, message] of bad) {
      assert.throws(() => leastConnection(options as never), { name: 'TypeError', message }, JSON.stringify(options));
    }
  });
});
