import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { memoryResolver, subsetResolver } from '../../src';
import { startEchoServer } from '../helpers/echo-server';
import { eventually, testBed, unary } from '../helpers/calls';

const { start, client, track } = testBed();

describe('subsetResolver over real servers', () => {
  test('a member that stops is replaced by the next server, and given back once it serves again', async () => {
    const servers = await start(6);
    const registry = memoryResolver();
    registry.set('echo', servers.map((s) => s.address));
    const subset = subsetResolver(registry, { size: 2, clientId: 'caller-1' });
    const c = client({ resolver: subset, service: 'echo' });
    const stopFollowing = subset.follow(c);
    await eventually(() => c.endpoints().filter((e) => e.available).length === 2);
    const members = c.endpoints().map((e) => e.address);
    assert.equal(members.length, 2);

    const failing = servers.find((s) => s.address === members[0])!;
    await failing.stop();
    // The failing member stays (its recovery must be seen) and a third server keeps two usable.
    await eventually(() => c.endpoints().length === 3 && c.endpoints().filter((e) => e.available).length === 2, 10_000, 'a replacement ready');
    const replacement = c.endpoints().find((e) => !members.includes(e.address))!.address;
    const answered = new Set<string>();
    for (let i = 0; i < 20; i++) answered.add((await unary(c)).server);
    assert.equal(answered.size, 2);
    assert.ok(!answered.has(failing.name));

    // Back on the same port: once it is ready, the replacement is let go.
    track(await startEchoServer({ name: failing.name, port: failing.port }));
    await eventually(() => c.endpoints().filter((e) => e.available && e.address !== replacement).length === 2, 15_000, 'the member back');
    await eventually(() => !c.endpoints().some((e) => e.address === replacement && !e.draining), 5_000, 'the replacement let go');
    stopFollowing();
  });
});
