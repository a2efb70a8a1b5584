import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { consistentHash, memoryResolver } from '../../src';
import { eventually, isError, sleep, testBed, type Echo } from '../helpers/calls';
import { startEchoServer, type EchoReply } from '../helpers/echo-server';

const { start, client, track } = testBed();

const KEYS = Array.from({ length: 60 }, (_, i) => `user-${i}`);

/** Where each key's call went, the calls made all at once. */
async function owners(c: Echo, keys: readonly string[] = KEYS): Promise<Map<string, string>> {
  const replies = await Promise.all(keys.map((key) => c.async.Unary({ message: key }, { hashKey: key, deadline: Date.now() + 5_000 }) as Promise<EchoReply>));
  return new Map(keys.map((key, i) => [key, replies[i].server]));
}

function moved(a: Map<string, string>, b: Map<string, string>): string[] {
  return [...a.keys()].filter((key) => a.get(key) !== b.get(key));
}

describe('consistent hash: keys stay on their owner', () => {
  test('calls made right after start-up, while endpoints connect, go where they go later', async () => {
    const servers = await start(3);
    for (let run = 0; run < 4; run++) {
      const resolver = memoryResolver();
      resolver.set('echo', servers.map((s) => s.address));
      const c = client({ resolver, service: 'echo', balancer: consistentHash() });
      // No waiting for readiness: the first calls race the connections.
      const first = await owners(c);
      await sleep(300);
      const later = await owners(c);
      assert.deepEqual(moved(first, later), [], `run ${run}: keys moved after start-up`);
      assert.ok(new Set(first.values()).size === 3, `run ${run}: keys spread over all three, got ${[...new Set(first.values())]}`);
      c.close();
    }
  });

  test('ready() resolves once every endpoint has connected or failed; keys then never move', async () => {
    const servers = await start(3);
    const resolver = memoryResolver();
    // One address where nothing listens: ready() must not wait for it forever.
    resolver.set('echo', [...servers.map((s) => s.address), '127.0.0.1:1']);
    const c = client({ resolver, service: 'echo', balancer: consistentHash() });
    await c.ready();
    const states = c.endpoints().map((e) => e.state);
    assert.ok(states.every((s) => s === 'ready' || s === 'transient_failure'), `states after ready(): ${states}`);
    const first = await owners(c);
    assert.deepEqual(moved(first, await owners(c)), []);
  });

  test('only the keys of an owner that dies move, and they move back when it returns', async () => {
    const [a, b] = await start(2);
    const c3 = track(await startEchoServer({ name: 's2' }))[0];
    const port = c3.port;
    const resolver = memoryResolver();
    resolver.set('echo', [a.address, b.address, c3.address]);
    const c = client({ resolver, service: 'echo', balancer: consistentHash() });
    await c.ready();
    const before = await owners(c);
    const ownedByDead = KEYS.filter((key) => before.get(key) === 's2');
    assert.ok(ownedByDead.length > 0);

    c3.forceStop();
    await eventually(() => c.endpoints().find((e) => e.address === c3.address)!.state !== 'ready', 5_000, 'the dead owner noticed');
    const during = await owners(c);
    assert.deepEqual(moved(before, during).sort(), [...ownedByDead].sort(), 'exactly the dead owner’s keys moved');

    // The instance comes back on the same address: its keys return to it.
    const back = track(await startEchoServer({ name: 's2', port }))[0];
    assert.equal(back.address, c3.address);
    await eventually(() => c.endpoints().find((e) => e.address === c3.address)!.state === 'ready', 10_000, 'the owner reconnected');
    const after = await owners(c);
    assert.deepEqual(moved(before, after), [], 'every key is back on its owner');
  });

  test('a call whose owner is connecting waits within its deadline, and fails only at it', async () => {
    const servers = await start(2);
    const resolver = memoryResolver();
    resolver.set('echo', servers.map((s) => s.address));
    const c = client({ resolver, service: 'echo', balancer: consistentHash() });
    await c.ready();
    const before = await owners(c);
    // A third endpoint that never connects within the test (a peer that accepts nothing yet on a
    // routable but silent address would do too): its keys wait, and time out at their deadline.
    const silent = await import('node:net').then(({ createServer }) => {
      const server = createServer(() => undefined);
      return new Promise<{ address: string; close(): void }>((resolve) =>
        server.listen(0, '127.0.0.1', () => resolve({ address: `127.0.0.1:${(server.address() as { port: number }).port}`, close: () => server.close() })),
      );
    });
    try {
      resolver.set('echo', [...servers.map((s) => s.address), silent.address]);
      await eventually(() => c.endpoints().length === 3);
      const results = await Promise.all(
        KEYS.map((key) =>
          c.async.Unary({ message: key }, { hashKey: key, deadline: Date.now() + 300 }).then(
            (reply: EchoReply) => reply.server,
            (error: grpc.ServiceError) => error,
          ),
        ),
      );
      const waited = results.filter((r): r is grpc.ServiceError => typeof r !== 'string');
      assert.ok(waited.length > 0, 'some keys belong to the connecting endpoint');
      for (const error of waited) {
        assert.ok(isError(error));
        assert.equal(error.code, grpc.status.DEADLINE_EXCEEDED, error.details);
      }
      // The others stayed where they were.
      KEYS.forEach((key, i) => {
        if (typeof results[i] === 'string') assert.equal(results[i], before.get(key), key);
      });
    } finally {
      silent.close();
    }
  });
});
