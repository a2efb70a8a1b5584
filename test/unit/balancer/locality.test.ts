import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { localityAware } from '../../../src/balancer/locality';
import { weightedRandom } from '../../../src/balancer/weighted-random';
import { weightedRoundRobin } from '../../../src/balancer/weighted-round-robin';
import type { Picker } from '../../../src/balancer/types';
import { call, endpoint, pickMany, seeded, type TestEndpoint } from './helpers';

const PICKS = 60_000;

/** `perZone` endpoints in each zone, tagged as a registry would tag them. */
function fleet(zones: readonly string[], perZone: number): TestEndpoint[] {
  return zones.flatMap((zone, z) => Array.from({ length: perZone }, (_, i) => endpoint(`10.0.${z}.${i}:50051`, 1, { tags: { zone } })));
}

/** Share of picks per zone. */
function zoneShares(picker: Picker<TestEndpoint>, picks = PICKS): Record<string, number> {
  const shares: Record<string, number> = {};
  for (let i = 0; i < picks; i++) {
    const zone = picker.pick(call())!.tags.zone ?? '';
    shares[zone] = (shares[zone] ?? 0) + 1 / picks;
  }
  return shares;
}

function near(actual: number | undefined, expected: number, what: string): void {
  assert.ok(Math.abs((actual ?? 0) - expected) < 0.015, `${what}: ${actual?.toFixed(4)} instead of about ${expected.toFixed(4)}`);
}

describe('localityAware', () => {
  const zones = ['a', 'b', 'c'];

  test('every call stays in the local zone while it is healthy', () => {
    const shares = zoneShares(localityAware({ zone: 'a', random: seeded(1) }).build(fleet(zones, 4)));
    assert.deepEqual(Object.keys(shares), ['a']);
  });

  test('with half the local endpoints gone, the local share falls to what they can carry and the rest spills evenly', () => {
    const list = fleet(zones, 4).filter((e) => !(e.tags.zone === 'a' && e.address.endsWith('.0:50051')) && e.address !== '10.0.0.1:50051');
    // a holds 2 of 10 endpoints (0.2) for a third of the callers: it keeps 0.2 / (1/3) = 60 % of
    // its callers' calls; b and c have 0.4 - 1/3 spare each and take 20 % each.
    const shares = zoneShares(localityAware({ zone: 'a', random: seeded(2) }).build(list));
    near(shares.a, 0.6, 'a');
    near(shares.b, 0.2, 'b');
    near(shares.c, 0.2, 'c');
  });

  test('with no local endpoint, the other zones share evenly', () => {
    const list = fleet(zones, 4).filter((e) => e.tags.zone !== 'a');
    const shares = zoneShares(localityAware({ zone: 'a', random: seeded(3) }).build(list));
    near(shares.b, 0.5, 'b');
    near(shares.c, 0.5, 'c');
  });

  test('callerZones describes where the callers are', () => {
    const list = fleet(zones, 4);
    assert.deepEqual(Object.keys(zoneShares(localityAware({ zone: 'a', callerZones: { a: 1, b: 1, c: 2 }, random: seeded(4) }).build(list))), ['a']);
    // Half the callers sit in a, which has a third of the servers: it keeps 2/3, b and c take 1/6 each.
    const shares = zoneShares(localityAware({ zone: 'a', callerZones: { a: 2, b: 1, c: 1 }, random: seeded(5) }).build(list));
    near(shares.a, 2 / 3, 'a');
    near(shares.b, 1 / 6, 'b');
    near(shares.c, 1 / 6, 'c');
  });

  test('weights count as capacity, and the inner balancer spreads calls inside the zone', () => {
    const list = fleet(zones, 2);
    list[0].weight = 3; // a: 3 + 1 of 8 ≥ 1/3
    const picker = localityAware({ zone: 'a', balancer: weightedRoundRobin({ random: seeded(6) }) }).build(list);
    const picks = pickMany(picker, 4000);
    assert.equal(picks.filter((a) => a === list[0].address).length, 3000);
    assert.equal(picks.filter((a) => a === list[1].address).length, 1000);
  });

  test('below minEndpoints zones are ignored; untagged endpoints form a zone of their own', () => {
    const small = fleet(zones, 1);
    const shares = zoneShares(localityAware({ zone: 'a', random: seeded(7), balancer: weightedRandom({ random: seeded(8) }) }).build(small));
    near(shares.a, 1 / 3, 'a');
    const withUntagged = [...fleet(['a'], 3), ...Array.from({ length: 3 }, (_, i) => endpoint(`10.9.0.${i}:50051`))];
    assert.deepEqual(Object.keys(zoneShares(localityAware({ zone: 'a', random: seeded(9) }).build(withUntagged))), ['a']);
  });

  test('a retry that has tried the whole local zone leaves it', () => {
    const list = fleet(zones, 3);
    const picker = localityAware({ zone: 'a', random: seeded(10) }).build(list);
    const exclude = new Set(list.filter((e) => e.tags.zone === 'a').map((e) => e.address));
    for (let i = 0; i < 100; i++) assert.notEqual(picker.pick(call({ exclude }))!.tags.zone, 'a');
  });

  test('a custom zone tag', () => {
    const list = fleet(zones, 2).map((e) => ({ ...e, tags: { 'topology.kubernetes.io/zone': e.tags.zone } }));
    const picker = localityAware({ zone: 'b', zoneTag: 'topology.kubernetes.io/zone', random: seeded(11) }).build(list);
    assert.ok(pickMany(picker, 100).every((a) => a.startsWith('10.0.1.')));
  });

  test('rejects bad options with errors naming them', () => {
    assert.throws(() => localityAware(undefined as never), /zone/);
    assert.throws(() => localityAware({ zone: '' }), /options\.zone/);
    assert.throws(() => localityAware({ zone: 'a', zoneTag: '' }), /options\.zoneTag/);
    assert.throws(() => localityAware({ zone: 'a', callerZones: { a: -1 } }), /callerZones\["a"\]/);
    assert.throws(() => localityAware({ zone: 'a', callerZones: { a: 0 } }), /at least one zone/);
    assert.throws(() => localityAware({ zone: 'a', minEndpoints: 1.5 }), /options\.minEndpoints/);
  });
});
