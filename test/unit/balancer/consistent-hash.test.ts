import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Metadata } from '@grpc/grpc-js';
import { DEFAULT_VIRTUAL_NODES, consistentHash } from '../../../src/balancer/consistent-hash';
import { murmur3Bytes } from '../../../src/balancer/murmur3';
import type { Endpoint } from '../../../src/balancer/types';
import { CALL, call, endpoint, endpoints, histogram, seeded, type TestEndpoint } from './helpers';

const keys = (count: number, prefix = 'user-') => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

function owners(picker: { pick(info: ReturnType<typeof call>): Endpoint | undefined }, list: readonly string[]): string[] {
  return list.map((hashKey) => picker.pick(call({ hashKey }))!.address);
}

/** A ring written the plainest way: what any process, in any language, should compute. */
function referenceOwner(addresses: readonly string[], key: string, points = DEFAULT_VIRTUAL_NODES): string {
  const hash = murmur3Bytes(Buffer.from(key));
  let best: { hash: number; address: string } | undefined;
  let lowest: { hash: number; address: string } | undefined;
  for (const address of addresses) {
    for (let v = 0; v < points; v++) {
      const point = { hash: murmur3Bytes(Buffer.from(address), v), address };
      const before = (a: typeof point, b: typeof point | undefined) =>
        b === undefined || a.hash < b.hash || (a.hash === b.hash && a.address < b.address);
      if (point.hash >= hash && before(point, best)) best = point;
      if (before(point, lowest)) lowest = point;
    }
  }
  return (best ?? lowest)!.address;
}

describe('consistentHash', () => {
  test('is named consistent_hash', () => {
    assert.equal(consistentHash().name, 'consistent_hash');
  });

  test('every process maps keys alike: independent pickers, shuffled lists, a plain reference ring', () => {
    const list = endpoints(new Array(12).fill(1));
    const shuffled = [...list].reverse().map((e) => endpoint(e.address, e.weight, { inflight: 5 }));
    const sample = keys(3000);
    const a = owners(consistentHash({ random: seeded(1) }).build(list), sample);
    const b = owners(consistentHash({ random: seeded(2) }).build(shuffled), sample);
    assert.deepEqual(a, b);
    const addresses = list.map((e) => e.address);
    for (let i = 0; i < 40; i++) assert.equal(a[i], referenceOwner(addresses, sample[i]), sample[i]);
  });

  test('the mapping is fixed across restarts (no seed)', () => {
    const picker = consistentHash().build(endpoints([1, 1, 1, 1, 1]).map((e, i) => endpoint(`10.0.0.${i + 1}:50051`, 1)));
    const mapped = Object.fromEntries(['alice', 'bob', 'frank', 'user-42', '😀'].map((k) => [k, picker.pick(call({ hashKey: k }))!.address]));
    assert.deepEqual(mapped, {
      alice: '10.0.0.4:50051',
      bob: '10.0.0.5:50051',
      frank: '10.0.0.3:50051',
      'user-42': '10.0.0.1:50051',
      '😀': '10.0.0.4:50051',
    });
  });

  test('adding or removing one of 10 endpoints moves only its keys, ≤ 1.1 × the ideal share', () => {
    const list = endpoints(new Array(11).fill(1));
    const ten = list.slice(0, 10);
    const sample = keys(100_000);
    const before = owners(consistentHash().build(ten), sample);
    const added = owners(consistentHash().build(list), sample);
    let moved = 0;
    for (let i = 0; i < sample.length; i++) {
      if (added[i] === before[i]) continue;
      moved++;
      assert.equal(added[i], list[10].address, 'a key moved between two old endpoints');
    }
    assert.ok(moved <= 1.1 * (sample.length / 11), `+1 moved ${moved}, ideal ${sample.length / 11}`);
    assert.ok(moved >= 0.8 * (sample.length / 11), `+1 moved only ${moved}: the new endpoint takes too little`);

    const removed = owners(consistentHash().build(ten.filter((_, i) => i !== 3)), sample);
    let movedOut = 0;
    for (let i = 0; i < sample.length; i++) {
      if (removed[i] === before[i]) continue;
      movedOut++;
      assert.equal(before[i], ten[3].address, 'a key of a remaining endpoint moved');
    }
    assert.ok(movedOut <= 1.1 * (sample.length / 10), `−1 moved ${movedOut}, ideal ${sample.length / 10}`);
  });

  test('keys spread evenly: busiest of 10 endpoints within 1.15 × the mean', () => {
    const counts = histogram(owners(consistentHash().build(endpoints(new Array(10).fill(1))), keys(100_000, 'k')));
    assert.equal(counts.size, 10);
    assert.ok(Math.max(...counts.values()) / 10_000 <= 1.15, JSON.stringify([...counts.values()]));
  });

  test('the key comes from hashKey, else from the named header (text or binary)', () => {
    const list = endpoints(new Array(8).fill(1));
    const picker = consistentHash({ header: 'X-User-Id' }).build(list);
    const binary = consistentHash({ header: 'x-user-bin' }).build(list);
    for (const key of keys(200)) {
      const expected = picker.pick(call({ hashKey: key }))!.address;
      const metadata = new Metadata();
      metadata.set('x-user-id', key);
      metadata.set('x-user-bin', Buffer.from(key));
      assert.equal(picker.pick(call({ metadata }))!.address, expected);
      assert.equal(binary.pick(call({ metadata }))!.address, expected);
      assert.equal(picker.pick(call({ metadata, hashKey: 'other' }))!.address, picker.pick(call({ hashKey: 'other' }))!.address);
    }
  });

  test('a call without a key gets a random endpoint, not a crash', () => {
    const list = endpoints(new Array(10).fill(1));
    const picker = consistentHash({ header: 'x-user-id', random: seeded(4) }).build(list);
    const seen = histogram(Array.from({ length: 2000 }, (_, i) => picker.pick(i % 2 ? CALL : call({ hashKey: '', metadata: new Metadata() }))!.address));
    assert.equal(seen.size, 10);
    assert.ok(Math.max(...seen.values()) < 2000 * 0.2);
  });

  test('weighted: an endpoint of weight 3 owns about 3 times the keys', () => {
    const list = [endpoint('10.0.0.1:1', 3), endpoint('10.0.0.2:1', 1), endpoint('10.0.0.3:1', 1)];
    const counts = histogram(owners(consistentHash({ weighted: true, virtualNodes: 100 }).build(list), keys(50_000)));
    const ratio = counts.get('10.0.0.1:1')! / ((counts.get('10.0.0.2:1')! + counts.get('10.0.0.3:1')!) / 2);
    assert.ok(ratio > 2.6 && ratio < 3.4, `ratio ${ratio}`);
    const unweighted = histogram(owners(consistentHash().build(list), keys(50_000)));
    assert.ok(unweighted.get('10.0.0.1:1')! < 50_000 * 0.45, 'weights must not count without the option');
  });

  test('bounded load: no endpoint ever takes more than ceil(c × average in flight)', () => {
    const c = 1.25;
    const run = (loadFactor: number | undefined) => {
      const list: TestEndpoint[] = endpoints(new Array(8).fill(1));
      const picker = consistentHash({ loadFactor, random: seeded(8) }).build(list);
      const random = seeded(99);
      const open: TestEndpoint[] = [];
      let worst = 0;
      for (let i = 0; i < 20_000; i++) {
        // A hot key in half the calls, as a popular user would make.
        const hashKey = random() < 0.5 ? 'hot' : `k${Math.floor(random() * 1000)}`;
        const picked = picker.pick(call({ hashKey })) as TestEndpoint;
        picked.inflight++;
        open.push(picked);
        const total = open.length;
        worst = Math.max(worst, picked.inflight / Math.ceil((c * total) / list.length));
        // Calls finish in random order; about 40 stay in flight.
        while (open.length > 40) {
          const done = open.splice(Math.floor(random() * open.length), 1)[0];
          done.inflight--;
        }
      }
      return worst;
    };
    assert.ok(run(c) <= 1, `bounded: ${run(c)}`);
    assert.ok(run(undefined) > 1.5, 'without the bound the hot key must overload its endpoint');
  });

  test('bounded load keeps every key on its own endpoint while loads are under the bound', () => {
    const list = endpoints(new Array(6).fill(1));
    const sample = keys(2000);
    assert.deepEqual(owners(consistentHash({ loadFactor: 1.25 }).build(list), sample), owners(consistentHash().build(list), sample));
  });

  test('exclude: the next endpoint on the ring not yet tried, the same in every process', () => {
    const list = endpoints(new Array(10).fill(1));
    const a = consistentHash().build(list);
    const b = consistentHash().build([...list].reverse());
    for (const hashKey of keys(300)) {
      const first = a.pick(call({ hashKey }))!.address;
      const exclude = new Set([first]);
      const second = a.pick(call({ hashKey, exclude }))!.address;
      assert.notEqual(second, first);
      assert.equal(b.pick(call({ hashKey, exclude }))!.address, second);
      assert.equal(a.pick(call({ hashKey, exclude: new Set(list.map((e) => e.address)) }))!.address, first);
    }
  });

  test('weight ≤ 0 takes no calls; nothing to pick gives undefined', () => {
    const list = [endpoint('a:1', 0), endpoint('b:1', 1), endpoint('c:1', 1)];
    assert.ok(!owners(consistentHash().build(list), keys(500)).includes('a:1'));
    assert.equal(consistentHash().build([endpoint('a:1', 0)]).pick(call({ hashKey: 'x' })), undefined);
    assert.equal(consistentHash().build([]).pick(call({ hashKey: 'x' })), undefined);
  });

  test('bad options throw a TypeError naming the field', () => {
    const bad: [object, RegExp][] = [
      [{ virtualNodes: 0 }, /options\.virtualNodes/],
      [{ virtualNodes: 2.5 }, /options\.virtualNodes/],
      [{ weighted: true, virtualNodes: -1 }, /options\.virtualNodes/],
      [{ loadFactor: 1 }, /options\.loadFactor/],
      [{ loadFactor: Number.NaN }, /options\.loadFactor/],
      [{ header: 'x user' }, /options\.header/],
      [{ header: 42 }, /options\.header/],
      [{ weighted: 'yes' }, /options\.weighted/],
      [{ random: 1 }, /options\.random/],
    ];
    for (const [options, message] of bad) {
      assert.throws(() => consistentHash(options as never), { name: 'TypeError', message }, JSON.stringify(options));
    }
    assert.doesNotThrow(() => consistentHash({ weighted: true, virtualNodes: 1.5, loadFactor: 1.25, header: 'x-user-id' }));
  });
});
