import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { performance } from 'node:perf_hooks';
import { createClient, memoryResolver, weightedRoundRobin, type Balancer, type ClientEndpoint, type Middleware } from '../../src';
import { eventually, outcome, sleep, spread, testBed, unary, type Echo } from '../helpers/calls';
import { EchoClient, startEchoServer, type EchoReply, type EchoServer } from '../helpers/echo-server';

const { track, start, client, closeLater } = testBed();

/**
 * Calls per server match the expected split within `tolerance` of the total: weighted round robin
 * over sequential calls is exact, but on a loaded machine an endpoint can drop out of the picker
 * for a moment (a keepalive or reconnect), shifting a few calls to the others.
 */
function assertSpread(counts: Record<string, number>, expected: Record<string, number>, tolerance = 0.1): void {
  const total = Object.values(expected).reduce((a, b) => a + b, 0);
  assert.deepEqual(Object.keys(counts).sort(), Object.keys(expected).sort(), JSON.stringify(counts));
  assert.equal(Object.values(counts).reduce((a, b) => a + b, 0), total, JSON.stringify(counts));
  for (const [server, want] of Object.entries(expected)) {
    assert.ok(Math.abs(counts[server] - want) <= Math.ceil(tolerance * total), `${server}: ${counts[server]} calls, expected ${want} ± ${Math.ceil(tolerance * total)}`);
  }
}

describe('createClient over real servers', () => {
  test('spreads calls evenly over 3 servers (static target)', async () => {
    const s = await start(3);
    const c = client({ target: `static:///${s.map((x) => x.address).join(',')}` });
    await eventually(() => c.endpoints().filter((e) => e.available).length === 3);
    // The picker may take a moment longer than the endpoints to hold all three (rebuilds are
    // spaced): counting starts once three calls in a row reach three servers.
    await eventually(async () => Object.keys(await spread(c, 3)).length === 3);
    const counts = await spread(c, 300);
    assertSpread(counts, { s0: 100, s1: 100, s2: 100 }, 0.05);
  });

  test('follows the resolver: an added server gets calls, a removed one stops getting them', async () => {
    const [a, b, extra] = await start(3);
    const registry = memoryResolver();
    registry.set('echo', [a.address, b.address]);
    const c = client({ resolver: registry, service: 'echo' });
    // Both connected first: calls made while the second still connects go to the first alone.
    await eventually(() => c.endpoints().filter((e) => e.available).length === 2);
    assert.deepEqual(Object.keys(await spread(c, 20)).sort(), ['s0', 's1']);

    registry.set('echo', [a.address, b.address, extra.address]);
    await eventually(() => c.endpoints().filter((e) => e.available).length === 3);
    assertSpread(await spread(c, 30), { s0: 10, s1: 10, s2: 10 });

    registry.set('echo', [b.address, extra.address]);
    a.resetCounts();
    await spread(c, 30);
    assert.equal(a.total(), 0, 'the removed server got calls');
    await eventually(() => c.endpoints().length === 2);
  });

  test('a call in flight on a removed endpoint completes; the endpoint closes after it', async () => {
    const [slow, fast] = track(
      await startEchoServer({ name: 'slow', behaviour: { delayMs: 300 } }),
      await startEchoServer({ name: 'fast' }),
    );
    const registry = memoryResolver();
    registry.set('echo', [slow.address]);
    const c = client({ resolver: registry, service: 'echo' });
    const inflight = unary(c, { message: 'keep me' });
    await eventually(() => slow.total() === 1);
    registry.set('echo', [fast.address]);
    await sleep(20);
    const draining = c.endpoints().find((e) => e.address === slow.address);
    assert.ok(draining, 'the draining endpoint is still listed while its call runs');
    assert.equal(draining.draining, true);
    assert.equal(draining.inflight, 1);
    const reply = await inflight;
    assert.equal(reply.server, 'slow');
    await eventually(() => c.endpoints().every((e) => e.address !== slow.address));
    assert.equal((await unary(c, {})).server, 'fast');
  });

  test('a weight change applies in place without reconnecting', async () => {
    const [a, b] = await start(2);
    const registry = memoryResolver();
    registry.set('echo', [a.address, b.address]);
    const c = client({ resolver: registry, service: 'echo' });
    await eventually(() => c.endpoints().filter((e) => e.available).length === 2);
    await spread(c, 10);
    const before = c.endpoints().find((e) => e.address === a.address)!;
    registry.set('echo', [{ address: a.address, weight: 3 }, { address: b.address, weight: 1 }]);
    const counts = await spread(c, 40);
    assertSpread(counts, { s0: 30, s1: 10 });
    const afterChange = c.endpoints().find((e) => e.address === a.address)!;
    assert.equal(afterChange.weight, 3);
    assert.equal(afterChange.calls, before.calls + 30, 'stats continue: same endpoint, same channel');
    assert.equal(afterChange.connectTimeouts, 0);
  });

  test('under churn, every removed endpoint closes and no call is lost', async () => {
    const pool = await start(5);
    const registry = memoryResolver();
    registry.set('echo', pool.map((s) => s.address));
    const c = client({ resolver: registry, service: 'echo' });
    let added = 0;
    let removed = 0;
    c.observe({ onEndpointAdded: () => added++, onEndpointRemoved: () => removed++ });
    await unary(c, {});
    let stop = false;
    const failures: string[] = [];
    const load = Promise.all(
      Array.from({ length: 8 }, async () => {
        while (!stop) {
          const r = await outcome(c, {}, { deadline: Date.now() + 2000 });
          if (r instanceof Error) failures.push(r.message);
        }
      }),
    );
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 40; round++) {
      const subset = pool.filter(() => rand() < 0.6);
      registry.set('echo', (subset.length ? subset : [pool[0]]).map((s) => s.address));
      await sleep(15);
    }
    registry.set('echo', [pool[1].address, pool[2].address]);
    await sleep(50);
    stop = true;
    await load;
    assert.deepEqual(failures, []);
    await eventually(() => c.endpoints().length === 2);
    assert.equal(added - removed, 2, `added ${added}, removed ${removed}: every other channel closed`);
    assert.ok(added > 5, 'churn did add endpoints back');
  });

  test('an endpoint that fails to connect makes the client ask its resolver to resolve again', async () => {
    const gone = await startEchoServer();
    const address = gone.address;
    gone.forceStop();
    const base = memoryResolver();
    base.set('echo', [address]);
    const asked: string[] = [];
    const c = client({ resolver: { watch: base.watch, resolveNow: (service) => asked.push(service) }, service: 'echo' });
    await eventually(() => asked.length > 0);
    assert.deepEqual(asked, ['echo']);
    assert.equal(c.endpoints()[0].state, 'transient_failure');
  });

  test('with picker rebuilds held back (a slow balancer), no call goes to an endpoint that left the picker', async () => {
    const [a, b] = await start(2);
    const inner = weightedRoundRobin();
    let builds = 0;
    const slow: Balancer = {
      name: 'slow',
      build(endpoints) {
        builds++;
        const until = performance.now() + 20;
        while (performance.now() < until); // a build this slow spaces rebuilds ~200 ms apart
        return inner.build(endpoints);
      },
    };
    const live: ClientEndpoint[] = [];
    const registry = memoryResolver();
    const c = client({ resolver: registry, service: 'echo', balancer: slow });
    c.observe({ onEndpointAdded: (e) => live.push(e) });
    registry.set('echo', [a.address, b.address]);
    await eventually(() => c.endpoints().filter((e) => e.available).length === 2);
    await spread(c, 4);
    const before = builds;
    const ejected = live.find((e) => e.address === a.address)!;
    ejected.setEjected(true);
    ejected.setEjected(false);
    ejected.setEjected(true); // the second change falls inside the hold-back window
    a.resetCounts();
    assert.deepEqual(await spread(c, 10), { s1: 10 });
    assert.equal(a.total(), 0);
    assert.ok(builds - before <= 3, `${builds - before} rebuilds`);
  });

  test('calls made before the first resolution wait for it', async () => {
    const [a] = track(await startEchoServer({ name: 'late' }));
    const registry = memoryResolver();
    const c = client({ resolver: registry, service: 'echo' });
    const pending = unary(c, { message: 'early' });
    await sleep(100);
    registry.set('echo', [a.address]);
    assert.equal((await pending).server, 'late');
  });

  test('with no endpoints, calls fail UNAVAILABLE naming the service, the target and why', async () => {
    const registry = memoryResolver();
    registry.set('ghost', []);
    const c = client({ resolver: registry, service: 'ghost', target: 'memory:///ghost' });
    const err = (await outcome(c, {})) as grpc.ServiceError;
    assert.equal(err.code, grpc.status.UNAVAILABLE);
    assert.match(err.details, /"ghost"/);
    assert.match(err.details, /memory:\/\/\/ghost/);
    assert.match(err.details, /returned no instances/);

    const failing = memoryResolver();
    const c2 = client({ resolver: failing, service: 'down' });
    failing.fail('down', new Error('registry unreachable'));
    const err2 = (await outcome(c2, {})) as grpc.ServiceError;
    assert.equal(err2.code, grpc.status.UNAVAILABLE);
    assert.match(err2.details, /registry unreachable/);
  });

  test('without a deadline, a call waits at most pickTimeoutMs for a first resolution', async () => {
    const c = client({ resolver: memoryResolver(), service: 'never', pickTimeoutMs: 150 });
    const started = Date.now();
    const err = (await outcome(c, {})) as grpc.ServiceError;
    assert.equal(err.code, grpc.status.UNAVAILABLE);
    assert.match(err.details, /waiting for the first resolution/);
    assert.ok(Date.now() - started < 1000);
  });

  test('a resolver error or an empty list keeps the last good endpoints', async () => {
    const [a] = track(await startEchoServer());
    const registry = memoryResolver();
    registry.set('echo', [a.address]);
    const seen: string[] = [];
    const c = client({ resolver: registry, service: 'echo' });
    c.observe({ onResolveError: (e) => seen.push(e.message) });
    await unary(c, {});
    registry.fail('echo', new Error('consul down'));
    registry.set('echo', []);
    assert.equal((await unary(c, {})).server, 'echo');
    assert.equal(c.endpoints().length, 1);
    assert.deepEqual(seen.length, 2);
    assert.match(seen[1], /no usable instances/);
  });

  test('bad instances are skipped and reported, good ones kept', async () => {
    const [a] = track(await startEchoServer());
    const registry = memoryResolver();
    const errors: string[] = [];
    const c = client({ resolver: registry, service: 'echo' });
    c.observe({ onResolveError: (e) => errors.push(e.message) });
    registry.set('echo', [a.address, 'no-port', { address: '10.0.0.1:1', weight: -2 }]);
    assert.equal((await unary(c, {})).server, 'echo');
    assert.equal(c.endpoints().length, 1);
    assert.match(errors[0], /2 unusable instance/);
    assert.match(errors[0], /no-port/);
  });

  test('deadline and cancel work on a stalled call', async () => {
    const [stalled] = track(await startEchoServer({ behaviour: { stall: true } }));
    const c = client({ target: `static:///${stalled.address}` });
    const started = Date.now();
    const err = (await outcome(c, {}, { deadline: Date.now() + 200 })) as grpc.ServiceError;
    assert.equal(err.code, grpc.status.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - started < 1500, 'deadline bounded the call');

    const statuses: grpc.StatusObject[] = [];
    const result = new Promise<grpc.ServiceError>((resolve) => {
      const call = c.unary({}, (e: grpc.ServiceError) => resolve(e));
      call.on('status', (s: grpc.StatusObject) => statuses.push(s));
      setTimeout(() => call.cancel(), 100);
    });
    const cancelled = await result;
    assert.equal(cancelled.code, grpc.status.CANCELLED);
    await sleep(10);
    assert.equal(statuses[0]?.code, grpc.status.CANCELLED);
    await eventually(() => c.endpoints()[0].inflight === 0);
  });

  test('a server that goes away mid-call fails the call UNAVAILABLE, not CANCELLED', async () => {
    const dying = await startEchoServer({ behaviour: { stall: true } });
    const c = client({ target: `static:///${dying.address}` });
    const pending = outcome(c, {});
    await eventually(() => dying.total() === 1);
    dying.forceStop();
    const err = (await pending) as grpc.ServiceError;
    assert.equal(err.code, grpc.status.UNAVAILABLE, err.message);
    assert.equal(c.endpoints()[0].failures, 1, 'counted against the endpoint');
  });

  test('metadata, interceptors, events and getPeer behave as with the plain stub', async () => {
    const [a] = track(await startEchoServer());
    const c = client({ target: `static:///${a.address}` });
    const md = new grpc.Metadata();
    md.set('x-echo', 'yes');
    let intercepted = 0;
    const interceptor: grpc.Interceptor = (options, nextCall) => {
      intercepted++;
      return new grpc.InterceptingCall(nextCall(options));
    };
    const events: string[] = [];
    const reply = await new Promise<EchoReply>((resolve, reject) => {
      const call = c.unary({ message: 'hi' }, md, { interceptors: [interceptor] }, (err: grpc.ServiceError | null, r: EchoReply) => {
        events.push('callback');
        err ? reject(err) : resolve(r);
      });
      call.on('metadata', () => events.push('metadata'));
      call.on('status', (s: grpc.StatusObject) => {
        events.push(`status:${s.code}`);
        assert.equal(call.getPeer(), a.address);
      });
    });
    await sleep(5);
    assert.equal(reply.message, 'hi');
    assert.equal(intercepted, 1);
    assert.equal(a.lastMetadata?.get('x-echo')[0], 'yes');
    assert.deepEqual(events, ['metadata', 'callback', 'status:0']);
  });

  test('server errors reach the caller as grpc-js ServiceErrors', async () => {
    const [a] = track(await startEchoServer({ behaviour: { failCode: grpc.status.NOT_FOUND } }));
    const c = client({ target: `static:///${a.address}` });
    const err = (await outcome(c, {})) as grpc.ServiceError;
    assert.ok(err instanceof Error);
    assert.equal(err.code, grpc.status.NOT_FOUND);
    assert.match(err.message, /^5 NOT_FOUND: /);
    assert.ok(err.metadata instanceof grpc.Metadata);
  });

  test('async/await unary, async iteration of server streams, AbortSignal', async () => {
    const [a] = track(await startEchoServer({ name: 'async' }));
    const c = client({ target: `static:///${a.address}` });
    const reply = (await c.async.unary({ message: 'await me' })) as EchoReply;
    assert.deepEqual([reply.message, reply.server], ['await me', 'async']);

    const got: number[] = [];
    for await (const r of c.async.serverStream({ message: 'x', count: 5 }) as AsyncIterable<EchoReply>) got.push(r.index);
    assert.deepEqual(got, [0, 1, 2, 3, 4]);

    a.behaviour = { stall: true };
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(c.async.unary({}, { signal: controller.signal }), (e: grpc.ServiceError) => e.code === grpc.status.CANCELLED);
    await assert.rejects(c.async.unary({}, { deadline: Date.now() + 50 }), (e: grpc.ServiceError) => e.code === grpc.status.DEADLINE_EXCEEDED);
  });

  test('user middleware sees the call context and its outcome', async () => {
    const [a] = track(await startEchoServer());
    const seen: string[] = [];
    const record: Middleware = (next) => async (ctx) => {
      seen.push(`before ${ctx.method} attempt ${ctx.attempt}`);
      await next(ctx);
      seen.push(`after ${ctx.status?.code} on ${ctx.endpoint?.address}`);
    };
    const c = client({ target: `static:///${a.address}`, middleware: [record] });
    await unary(c, {});
    assert.deepEqual(seen, ['before /test.echo.Echo/Unary attempt 1', `after 0 on ${a.address}`]);
  });

  test('a middleware that throws fails the call with INTERNAL, not the process', async () => {
    const [a] = track(await startEchoServer());
    const broken: Middleware = () => async () => {
      throw new Error('boom');
    };
    const c = client({ target: `static:///${a.address}`, middleware: [broken] });
    const err = (await outcome(c, {})) as grpc.ServiceError;
    assert.equal(err.code, grpc.status.INTERNAL);
    assert.match(err.details, /boom/);
  });

  test('IPv6 literal addresses work', async (t) => {
    let server: EchoServer;
    try {
      server = await startEchoServer({ host: '::1', name: 'v6' });
    } catch {
      t.skip('no IPv6 loopback on this machine');
      return;
    }
    track(server);
    const c = client({ target: `static:///${server.address}` });
    assert.equal((await unary(c, {})).server, 'v6');
    assert.equal(c.endpoints()[0].address, server.address);
  });

  test('close() closes every channel; later calls fail UNAVAILABLE', async () => {
    const [a] = track(await startEchoServer());
    const c = createClient(EchoClient, { target: `static:///${a.address}` }) as unknown as Echo;
    await unary(c, {});
    c.close();
    assert.equal(c.endpoints().length, 0);
    const err = (await outcome(c, {})) as grpc.ServiceError;
    assert.equal(err.code, grpc.status.UNAVAILABLE);
    assert.match(err.details, /closed/);
  });
});

describe('connect timeout', () => {
  // A peer that accepts TCP and never speaks HTTP/2: grpc-js alone would stay CONNECTING forever.
  async function silentPeer(): Promise<{ address: string; close(): void }> {
    const sockets: Socket[] = [];
    const server: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    return {
      address: `127.0.0.1:${port}`,
      close: () => {
        for (const s of sockets) s.destroy();
        server.close();
      },
    };
  }

  test('an endpoint that never becomes ready is not picked while another is ready', async () => {
    const peer = await silentPeer();
    closeLater(peer.close);
    const [good] = track(await startEchoServer({ name: 'good' }));
    const c = client({ target: `static:///${peer.address},${good.address}`, connectTimeoutMs: 200 });
    const counts = await spread(c, 20);
    assert.deepEqual(counts, { good: 20 });
    await eventually(() => c.endpoints().find((e) => e.address === peer.address)!.connectTimeouts >= 1);
    const stuck = c.endpoints().find((e) => e.address === peer.address)!;
    assert.equal(stuck.available, false);
  });

  test('calls to a service whose only endpoint never connects fail within their deadline, or at the connect timeout', async () => {
    const peer = await silentPeer();
    closeLater(peer.close);
    const c = client({ target: `static:///${peer.address}`, connectTimeoutMs: 300 });
    let started = Date.now();
    const err = (await outcome(c, {}, { deadline: Date.now() + 150 })) as grpc.ServiceError;
    assert.equal(err.code, grpc.status.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - started < 1000);

    started = Date.now();
    const err2 = (await outcome(c, {})) as grpc.ServiceError;
    assert.equal(err2.code, grpc.status.UNAVAILABLE);
    assert.match(err2.details, /failing to connect/);
    assert.ok(Date.now() - started < 1500, `took ${Date.now() - started} ms`);
  });
});
