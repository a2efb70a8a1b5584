import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { balancedSubsets, serverTable } from '../../../src/balancer/subset-assignment';
import { memoryResolver } from '../../../src/resolver/memory';
import { subsetResolver, type SubsetStateSource } from '../../../src/resolver/subset';
import type { Instance, Resolver } from '../../../src/resolver/types';

const address = (i: number) => `10.0.${i >> 8}.${i & 255}:50051`;
const servers = (n: number) => Array.from({ length: n }, (_, i) => address(i));

/** The lists a watch delivers, awaited one at a time. */
function follow(resolver: Resolver, service: string): { next(): Promise<Instance[]>; errors: Error[]; stop(): void } {
  const queue: Instance[][] = [];
  const waiting: ((list: Instance[]) => void)[] = [];
  const errors: Error[] = [];
  const stop = resolver.watch(service, {
    onUpdate: (list) => (waiting.length > 0 ? waiting.shift()!(list) : queue.push(list)),
    onError: (error) => errors.push(error),
  });
  return { next: () => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((resolve) => waiting.push(resolve))), errors, stop };
}

/** A client's endpoint states, set by hand. */
function fakeClient() {
  type Observer = Parameters<SubsetStateSource['observe']>[0];
  const observers = new Set<Observer>();
  const state = (address: string, eligible: boolean) => ({ address, eligible, draining: false });
  return {
    observe(observer: Observer) {
      observers.add(observer);
      return () => observers.delete(observer);
    },
    add: (address: string) => observers.forEach((o) => o.onEndpointAdded?.(state(address, true))),
    set: (address: string, eligible: boolean) => observers.forEach((o) => o.onEndpointChanged?.(state(address, eligible))),
    remove: (address: string) => observers.forEach((o) => o.onEndpointRemoved?.(state(address, true))),
  };
}

describe('balanced subsets', () => {
  test('every client gets size distinct servers and no server more than 1.1 × the mean', () => {
    const table = serverTable(servers(60));
    const subsets = balancedSubsets(table, 200, 6, 1.1);
    const load = new Array<number>(60).fill(0);
    for (const subset of subsets) {
      assert.equal(new Set(subset).size, 6);
      for (const s of subset) load[s]++;
    }
    assert.ok(Math.max(...load) <= 1.1 * 20, `busiest server has ${Math.max(...load)} clients, mean 20`);
  });

  test('is the same in every process: independent of the order addresses arrive in', () => {
    const list = servers(40);
    const a = balancedSubsets(serverTable(list), 50, 5, 1.1);
    const b = balancedSubsets(serverTable([...list].reverse()), 50, 5, 1.1);
    assert.deepEqual(a, b);
  });

  test('one server leaving moves at most twice the minimum of pairs', () => {
    const list = servers(60);
    const table = serverTable(list);
    const before = balancedSubsets(table, 300, 10, 1.1).map((s) => new Set(Array.from(s, (i) => table.addresses[i])));
    const gone = list[17];
    const after = serverTable(list.filter((a) => a !== gone));
    const next = balancedSubsets(after, 300, 10, 1.1).map((s) => new Set(Array.from(s, (i) => after.addresses[i])));
    let changed = 0;
    let held = 0;
    before.forEach((set, c) => {
      if (set.has(gone)) held++;
      for (const s of set) if (!next[c].has(s)) changed++;
      for (const s of next[c]) if (!set.has(s)) changed++;
    });
    assert.ok(changed <= 2 * (2 * held), `${changed} pairs changed; the minimum is ${2 * held}`);
  });
});

describe('subsetResolver', () => {
  test('passes on only this client’s subset, the same one for the same membership', async () => {
    const inner = memoryResolver();
    inner.set('svc', servers(30).map((a) => ({ address: a, weight: 1, tags: { zone: 'a' } })));
    const mine = follow(subsetResolver(inner, { size: 5, clientId: 3, clientCount: 12 }), 'svc');
    const first = await mine.next();
    assert.equal(first.length, 5);
    assert.deepEqual(first[0].tags, { zone: 'a' });
    const table = serverTable(servers(30));
    assert.deepEqual(
      first.map((i) => i.address).sort(),
      Array.from(balancedSubsets(table, 12, 5, 1.1)[3], (i) => table.addresses[i]).sort(),
    );
    // A weight change passes through; the subset stays.
    inner.set('svc', servers(30).map((a) => ({ address: a, weight: 3 })));
    const reweighted = await mine.next();
    assert.deepEqual(reweighted.map((i) => i.address), first.map((i) => i.address));
    assert.ok(reweighted.every((i) => i.weight === 3));
    mine.stop();
  });

  test('clients together cover every server', async () => {
    const inner = memoryResolver();
    inner.set('svc', servers(20));
    const seen = new Set<string>();
    for (let c = 0; c < 8; c++) {
      const watch = follow(subsetResolver(inner, { size: 5, clientId: c, clientCount: 8 }), 'svc');
      for (const i of await watch.next()) seen.add(i.address);
      watch.stop();
    }
    assert.equal(seen.size, 20);
  });

  test('without clientCount, a server outside the subset coming and going leaves it alone', async () => {
    const inner = memoryResolver();
    inner.set('svc', servers(30));
    const watch = follow(subsetResolver(inner, { size: 4, clientId: 'pod-7f9c' }), 'svc');
    const first = (await watch.next()).map((i) => i.address);
    const outsider = servers(30).find((a) => !first.includes(a))!;
    inner.set('svc', servers(30).filter((a) => a !== outsider));
    assert.deepEqual((await watch.next()).map((i) => i.address), first);
    watch.stop();
  });

  test('errors, resolveNow and malformed entries pass through to the client', async () => {
    const asked: string[] = [];
    const inner = memoryResolver();
    const wrapped = subsetResolver({ watch: inner.watch, resolveNow: (s) => asked.push(s) }, { size: 2, clientId: 0, clientCount: 1 });
    inner.set('svc', [...servers(4), { address: 5 } as unknown as Instance]);
    const watch = follow(wrapped, 'svc');
    const list = await watch.next();
    assert.equal(list.length, 3);
    inner.fail('svc', new Error('registry down'));
    assert.equal(watch.errors[0].message, 'registry down');
    wrapped.resolveNow!('svc');
    assert.deepEqual(asked, ['svc']);
    watch.stop();
    assert.equal(inner.watchers('svc'), 0);
  });

  test('follows the client: unusable members are replaced in a fixed order, and given back when they recover', async () => {
    const inner = memoryResolver();
    inner.set('svc', servers(20));
    const client = fakeClient();
    const subset = subsetResolver(inner, { size: 3, clientId: 1, clientCount: 4 });
    const stopFollowing = subset.follow(client);
    const watch = follow(subset, 'svc');
    const members = (await watch.next()).map((i) => i.address);
    assert.equal(members.length, 3);
    client.set(members[0], false);
    const replaced = (await watch.next()).map((i) => i.address);
    // The failing member stays listed (its recovery is seen), one more server keeps three usable.
    assert.equal(replaced.length, 4);
    assert.ok(members.every((a) => replaced.includes(a)));
    const first = replaced.find((a) => !members.includes(a))!;
    // The same order in every process: another resolver with the same options picks the same one.
    const again = subsetResolver(inner, { size: 3, clientId: 1, clientCount: 4 });
    const other = fakeClient();
    again.follow(other);
    const otherWatch = follow(again, 'svc');
    await otherWatch.next();
    other.set(members[0], false);
    assert.deepEqual((await otherWatch.next()).map((i) => i.address), replaced);
    otherWatch.stop();
    // The replacement fails too: it stays, and the next one joins.
    client.set(first, false);
    const twice = (await watch.next()).map((i) => i.address);
    assert.equal(twice.length, 5);
    assert.ok(twice.includes(first));
    // The member recovers: three usable members again, and both replacements are let go.
    client.set(members[0], true);
    assert.deepEqual((await watch.next()).map((i) => i.address).sort(), [...members].sort());
    // Once the resolver stops following, states no longer count.
    stopFollowing();
    client.set(members[1], false);
    await new Promise((resolve) => setImmediate(resolve));
    inner.set('svc', servers(20));
    assert.deepEqual((await watch.next()).map((i) => i.address).sort(), [...members].sort());
    watch.stop();
  });

  test('without clientCount too, and a connecting member is not replaced', async () => {
    const inner = memoryResolver();
    inner.set('svc', servers(12));
    const client = fakeClient();
    const subset = subsetResolver(inner, { size: 2, clientId: 'pod-1' });
    subset.follow(client);
    const watch = follow(subset, 'svc');
    const members = (await watch.next()).map((i) => i.address);
    client.add(members[0]);
    client.set(members[1], false);
    const replaced = (await watch.next()).map((i) => i.address);
    assert.equal(replaced.length, 3);
    // Removed from the client (it left the registry): its state is forgotten.
    client.remove(members[1]);
    assert.deepEqual((await watch.next()).map((i) => i.address), members);
    watch.stop();
  });

  test('rejects bad options with errors naming them', () => {
    const inner = memoryResolver();
    assert.throws(() => subsetResolver({} as Resolver, { size: 1, clientId: 0 }), /Resolver/);
    assert.throws(() => subsetResolver(inner, { size: 0, clientId: 0 }), /options\.size/);
    assert.throws(() => subsetResolver(inner, { size: 3, clientId: 5, clientCount: 5 }), /clientId must be an integer from 0 to 4/);
    assert.throws(() => subsetResolver(inner, { size: 3, clientId: '' }), /options\.clientId/);
    assert.throws(() => subsetResolver(inner, { size: 3, clientId: 1, clientCount: 2, loadFactor: 0.5 }), /options\.loadFactor/);
  });
});
