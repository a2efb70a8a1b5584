import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { retry, type EndpointInfo } from '../../src';
import { SEED_CHANNEL_OPTIONS, SEED_SERVICE_CONFIG } from '../fixtures/seed-service-config';
import { eventually, isError, outcome, sleep, testBed, unary, type Echo } from '../helpers/calls';
import { startEchoServer, type EchoServer } from '../helpers/echo-server';

const { track, start, client } = testBed();
const targetOf = (servers: EchoServer[]) => `static:///${servers.map((s) => s.address).join(',')}`;
const total = (servers: EchoServer[], method = 'Unary') => servers.reduce((n, s) => n + (s.calls[method] ?? 0), 0);
const available = (c: Echo) => c.endpoints().filter((e: EndpointInfo) => e.available).length;
/** Every endpoint available, and the picker given time to take them all in (its rebuilds may trail a connect by a few ms). */
async function allReady(c: Echo, n: number): Promise<void> {
  await eventually(() => available(c) === n, 5000, `${n} endpoints ready`);
  await sleep(100);
}

const retryConfig = (maxAttempts: number) =>
  JSON.stringify({
    methodConfig: [
      {
        name: [{ service: 'test.echo.Echo' }],
        retryPolicy: { maxAttempts, initialBackoff: '0.01s', maxBackoff: '0.05s', backoffMultiplier: 2, retryableStatusCodes: ['UNAVAILABLE'] },
      },
    ],
  });

describe('gRPC service config through createClient', () => {
  test('a retryPolicy in channelOptions is the one retry layer: a failing call reaches servers exactly maxAttempts times', async () => {
    const servers = await start(3);
    for (const s of servers) s.behaviour.failCode = grpc.status.UNAVAILABLE;
    const c = client({ target: targetOf(servers), channelOptions: { 'grpc.service_config': retryConfig(3) } });
    await allReady(c, 3);
    for (let i = 0; i < 5; i++) {
      servers.forEach((s) => s.resetCounts());
      const result = await outcome(c);
      assert.ok(isError(result) && result.code === grpc.status.UNAVAILABLE);
      assert.equal(total(servers), 3, 'attempts per call');
      // Each retry goes to an endpoint the call has not tried.
      assert.deepEqual(servers.map((s) => s.calls.Unary ?? 0), [1, 1, 1]);
    }
  });

  test('one server alone is hit maxAttempts times, not maxAttempts² (no grpc-js retries underneath)', async () => {
    const [s] = await start(1);
    s.behaviour.failCode = grpc.status.UNAVAILABLE;
    const c = client({ target: targetOf([s]), serviceConfig: retryConfig(4) });
    const result = await outcome(c);
    assert.ok(isError(result));
    assert.equal(s.calls.Unary, 4);
  });

  test('a retryPolicy beside retry() middleware is refused at createClient, naming both', () => {
    assert.throws(
      () => client({ target: 'static:///127.0.0.1:1', middleware: [retry({ maxAttempts: 3 })], channelOptions: { 'grpc.service_config': retryConfig(3) } }),
      /channelOptions\['grpc\.service_config'\] has a retryPolicy or hedgingPolicy and options\.middleware has a retry\(\) or hedge\(\)/,
    );
    assert.throws(() => client({ target: 'static:///127.0.0.1:1', serviceConfig: '{}', channelOptions: { 'grpc.service_config': '{}' } }), /give a service config once/);
  });

  test("the production example works as written: round robin, retries past a failing server, health checking, keepalive", async () => {
    const servers = await Promise.all(['a', 'b', 'c'].map((name) => startEchoServer({ name })));
    track(...servers);
    const health = servers.map((s) => {
      const h = new HealthImplementation({ 'test.echo.Echo': 'SERVING' });
      h.addToServer(s.server);
      return h;
    });
    const c = client({ target: targetOf(servers), channelOptions: SEED_CHANNEL_OPTIONS });
    await allReady(c, 3);

    // round_robin: every server takes its share.
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add((await unary(c)).server);
    assert.deepEqual([...seen].sort(), ['a', 'b', 'c']);

    // healthCheckConfig: a server reporting NOT_SERVING for the service leaves the picker.
    health[2].setStatus('test.echo.Echo', 'NOT_SERVING');
    await eventually(() => c.endpoints().find((e: EndpointInfo) => e.address === servers[2].address)?.serving === false, 5000, 'c not serving');
    servers.forEach((s) => s.resetCounts());
    for (let i = 0; i < 6; i++) await unary(c);
    assert.equal(servers[2].calls.Unary ?? 0, 0);

    // retryPolicy: UNAVAILABLE and DEADLINE_EXCEEDED from one server are retried on another.
    servers[0].behaviour.failCode = grpc.status.UNAVAILABLE;
    servers[1].behaviour.failCode = undefined;
    for (let i = 0; i < 6; i++) assert.equal((await unary(c)).server, 'b');
    servers[0].behaviour.failCode = grpc.status.DEADLINE_EXCEEDED;
    for (let i = 0; i < 6; i++) assert.equal((await unary(c)).server, 'b');
    // A code outside the list is not retried.
    servers[0].behaviour.failCode = grpc.status.INTERNAL;
    const outcomes = await Promise.all(Array.from({ length: 6 }, () => outcome(c)));
    assert.ok(outcomes.some((o) => isError(o) && o.code === grpc.status.INTERNAL));
  });

  test('per-method timeout from methodConfig bounds the call; other methods are not bound', async () => {
    const [s] = await start(1);
    const c = client({
      target: targetOf([s]),
      serviceConfig: { methodConfig: [{ name: [{ service: 'test.echo.Echo', method: 'Unary' }], timeout: '0.2s' }] },
    });
    const started = Date.now();
    const slow = await outcome(c, { message: 'x', delayMs: 2000 });
    assert.ok(isError(slow) && slow.code === grpc.status.DEADLINE_EXCEEDED, String(slow));
    assert.ok(Date.now() - started < 1500, `ended after ${Date.now() - started} ms`);
    const reply = await new Promise<unknown>((resolve, reject) => {
      const call = c.ServerStream({ message: 'y', count: 2, delayMs: 300 });
      const got: unknown[] = [];
      call.on('data', (m: unknown) => got.push(m));
      call.on('error', reject);
      call.on('end', () => resolve(got.length));
    });
    assert.equal(reply, 2);
  });

  test('hedgingPolicy sends a second attempt past a stalled server', async () => {
    const [stalled, fine] = await start(2);
    stalled.behaviour.stall = true;
    const c = client({
      target: targetOf([stalled, fine]),
      serviceConfig: {
        loadBalancingConfig: [{ pick_first: {} }],
        methodConfig: [{ name: [{ service: 'test.echo.Echo' }], hedgingPolicy: { maxAttempts: 2, hedgingDelay: '0.05s' } }],
      },
    });
    await allReady(c, 2);
    const started = Date.now();
    assert.equal((await unary(c, { message: 'h' }, { deadline: Date.now() + 3000 })).server, fine.name);
    assert.ok(Date.now() - started < 1000);
    assert.equal(stalled.calls.Unary, 1);
  });

  test('pick_first sends every call to the first address while it is up', async () => {
    const servers = await start(3);
    const c = client({ target: targetOf(servers), serviceConfig: { loadBalancingConfig: [{ pick_first: {} }] } });
    await eventually(() => available(c) === 3);
    for (let i = 0; i < 6; i++) assert.equal((await unary(c)).server, servers[0].name);
  });

  test('waitForReady: a call waits for a server that is not up yet instead of failing at once', async () => {
    const probe = await startEchoServer({ name: 'probe' });
    const port = probe.port;
    probe.forceStop();
    const target = `static:///127.0.0.1:${port}`;
    const plain = client({ target, connectTimeoutMs: 200 });
    const failFast = await outcome(plain, { message: 'x' }, { deadline: Date.now() + 5000 });
    assert.ok(isError(failFast) && failFast.code === grpc.status.UNAVAILABLE);

    const c = client({
      target,
      connectTimeoutMs: 200,
      serviceConfig: { methodConfig: [{ name: [{ service: 'test.echo.Echo' }], waitForReady: true }] },
    });
    const call = outcome(c, { message: 'late' }, { deadline: Date.now() + 8000 });
    await new Promise((r) => setTimeout(r, 500));
    track(await startEchoServer({ name: 'late', port }));
    const result = await call;
    assert.ok(!isError(result), String(result));
    assert.equal(result.server, 'late');
  });
});
