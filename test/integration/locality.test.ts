import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { localityAware, memoryResolver } from '../../src';
import { eventually, testBed, unary, type Echo } from '../helpers/calls';

const { start, client } = testBed();

/** Makes `n` calls, 4 at a time; the share of them each zone answered. */
async function zoneShares(c: Echo, n: number, zoneOf: Record<string, string>): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let made = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (made < n) {
        made++;
        const zone = zoneOf[(await unary(c)).server];
        counts[zone] = (counts[zone] ?? 0) + 1;
      }
    }),
  );
  return Object.fromEntries(Object.entries(counts).map(([zone, count]) => [zone, count / n]));
}

describe('localityAware over real servers in three zones', () => {
  test('keeps calls in the caller’s zone, spills what it cannot carry, and falls back when it is empty', async () => {
    const servers = await start(9);
    const zones = ['a', 'b', 'c'];
    const zoneOf: Record<string, string> = {};
    servers.forEach((s, i) => (zoneOf[s.name] = zones[Math.floor(i / 3)]));
    const registry = memoryResolver();
    registry.set(
      'echo',
      servers.map((s) => ({ address: s.address, tags: { zone: zoneOf[s.name] } })),
    );
    const c = client({ resolver: registry, service: 'echo', balancer: localityAware({ zone: 'a' }) });
    await eventually(() => c.endpoints().filter((e) => e.available).length === 9);
    assert.deepEqual(await zoneShares(c, 300, zoneOf), { a: 1 });

    // Two of a's three servers die: a holds 1 of 7 (0.14) for a third of the callers and keeps
    // 3/7 of its calls; b and c (3/7 each, 2/21 spare) take 2/7 each.
    servers[0].forceStop();
    servers[1].forceStop();
    await eventually(() => c.endpoints().filter((e) => e.available).length === 7);
    const spilled = await zoneShares(c, 1400, zoneOf);
    assert.ok(Math.abs(spilled.a - 3 / 7) < 0.06, `a kept ${spilled.a}`);
    assert.ok(Math.abs(spilled.b - 2 / 7) < 0.06 && Math.abs(spilled.c - 2 / 7) < 0.06, `b ${spilled.b}, c ${spilled.c}`);

    servers[2].forceStop();
    await eventually(() => c.endpoints().filter((e) => e.available).length === 6);
    const fallback = await zoneShares(c, 600, zoneOf);
    assert.equal(fallback.a, undefined);
    assert.ok(Math.abs(fallback.b - 0.5) < 0.06, `b ${fallback.b}`);
  });
});
