import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { memoryResolver } from '../../src';
import { circuitBreaker } from '../../src/middleware/circuit-breaker';
import { hedge } from '../../src/middleware/hedge';
import { metrics } from '../../src/middleware/metrics';
import { retry } from '../../src/middleware/retry';
import { eventually, outcome, testBed, type Echo } from '../helpers/calls';
import { startEchoServer, type EchoReply, type EchoServer } from '../helpers/echo-server';

const { track, start, client } = testBed();

function serverStream(c: Echo, count: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let n = 0;
    const call = c.serverStream({ message: 's', count });
    call.on('data', () => n++);
    call.on('error', reject);
    call.on('end', () => resolve(n));
  });
}

function clientStream(c: Echo, messages: number): Promise<EchoReply> {
  return new Promise((resolve, reject) => {
    const call = c.clientStream((err: grpc.ServiceError | null, reply: EchoReply) => (err ? reject(err) : resolve(reply)));
    for (let i = 0; i < messages; i++) call.write({ message: `m${i}` });
    call.end();
  });
}

function bidi(c: Echo, messages: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let n = 0;
    const call = c.bidi();
    call.on('data', () => n++);
    call.on('error', reject);
    call.on('end', () => resolve(n));
    for (let i = 0; i < messages; i++) call.write({ message: `m${i}` });
    call.end();
  });
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus's text format (what a scrape reads). */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `malformed exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[key] = value;
    samples.push({ name: match[1], labels, value: match[3] === '+Inf' ? Infinity : Number(match[3]) });
  }
  return samples;
}

/** Sum of the samples of `name` whose labels include `labels`; undefined when there are none. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const hits = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return hits.length === 0 ? undefined : hits.reduce((sum, s) => sum + s.value, 0);
}

async function scrape(registry: Registry): Promise<Sample[]> {
  return parse(await registry.metrics());
}

const ECHO = { grpc_service: 'test.echo.Echo' };
const UNARY = { ...ECHO, grpc_type: 'unary', grpc_method: 'Unary' };

describe('metrics over real servers', () => {
  test('call-level series: counts, codes, latency and stream messages', async () => {
    const [a, b] = await start(2);
    const registry = new Registry();
    const c = client({ target: `static:///${a.address},${b.address}`, middleware: [metrics({ registry })] });

    for (let i = 0; i < 10; i++) assert.equal(((await outcome(c)) as EchoReply).message, 'hi');
    const notFound = (await outcome(c, { failCode: grpc.status.NOT_FOUND })) as grpc.ServiceError;
    assert.equal(notFound.code, grpc.status.NOT_FOUND);
    const unavailable = (await outcome(c, { failCode: grpc.status.UNAVAILABLE })) as grpc.ServiceError;
    assert.equal(unavailable.code, grpc.status.UNAVAILABLE);
    assert.equal(await serverStream(c, 3), 3);
    assert.equal((await clientStream(c, 4)).index, 4);
    assert.equal(await bidi(c, 5), 5);

    const s = await scrape(registry);
    assert.equal(valueOf(s, 'grpc_client_started_total', UNARY), 12);
    assert.equal(valueOf(s, 'grpc_client_handled_total', { ...UNARY, grpc_code: 'OK' }), 10);
    assert.equal(valueOf(s, 'grpc_client_handled_total', { ...UNARY, grpc_code: 'NotFound' }), 1);
    assert.equal(valueOf(s, 'grpc_client_handled_total', { ...UNARY, grpc_code: 'Unavailable' }), 1);
    assert.equal(valueOf(s, 'grpc_client_handling_seconds_count', UNARY), 12);
    assert.equal(valueOf(s, 'grpc_client_handling_seconds_bucket', { ...UNARY, le: '+Inf' }), 12);
    const seconds = valueOf(s, 'grpc_client_handling_seconds_sum', UNARY)!;
    assert.ok(seconds > 0 && seconds < 5, `plausible total latency: ${seconds} s`);
    // Unary calls: one message out each, one back per success (go-grpc-prometheus's counting).
    assert.equal(valueOf(s, 'grpc_client_msg_sent_total', UNARY), 12);
    assert.equal(valueOf(s, 'grpc_client_msg_received_total', UNARY), 10);

    const ss = { ...ECHO, grpc_type: 'server_stream', grpc_method: 'ServerStream' };
    const cs = { ...ECHO, grpc_type: 'client_stream', grpc_method: 'ClientStream' };
    const bs = { ...ECHO, grpc_type: 'bidi_stream', grpc_method: 'Bidi' };
    assert.equal(valueOf(s, 'grpc_client_handled_total', { ...ss, grpc_code: 'OK' }), 1);
    assert.equal(valueOf(s, 'grpc_client_msg_sent_total', ss), 1);
    assert.equal(valueOf(s, 'grpc_client_msg_received_total', ss), 3);
    assert.equal(valueOf(s, 'grpc_client_msg_sent_total', cs), 4);
    assert.equal(valueOf(s, 'grpc_client_msg_received_total', cs), 1);
    assert.equal(valueOf(s, 'grpc_client_msg_sent_total', bs), 5);
    assert.equal(valueOf(s, 'grpc_client_msg_received_total', bs), 5);

    // Counts keep adding up across scrapes (nothing counted twice, nothing lost).
    await outcome(c);
    const again = await scrape(registry);
    assert.equal(valueOf(again, 'grpc_client_started_total', UNARY), 13);
    assert.equal(valueOf(again, 'grpc_client_handled_total', { ...UNARY, grpc_code: 'OK' }), 11);
  });

  test('stream messages are counted while the stream is still open', async () => {
    const [a] = await start(1);
    const registry = new Registry();
    const c = client({ target: `static:///${a.address}`, middleware: [metrics({ registry })] });
    const call = c.bidi();
    let replies = 0;
    call.on('data', () => replies++);
    for (let i = 0; i < 3; i++) call.write({ message: `m${i}` });
    await eventually(() => replies === 3);
    const bs = { ...ECHO, grpc_type: 'bidi_stream', grpc_method: 'Bidi' };
    const open = await scrape(registry);
    assert.equal(valueOf(open, 'grpc_client_started_total', bs), 1);
    assert.equal(valueOf(open, 'grpc_client_msg_sent_total', bs), 3);
    assert.equal(valueOf(open, 'grpc_client_msg_received_total', bs), 3);
    assert.equal(valueOf(open, 'grpc_client_handled_total', bs), undefined, 'not handled yet');

    call.write({ message: 'last' });
    call.end();
    await new Promise((resolve) => call.on('end', resolve));
    await eventually(async () => valueOf(await scrape(registry), 'grpc_client_handled_total', { ...bs, grpc_code: 'OK' }) === 1);
    const done = await scrape(registry);
    assert.equal(valueOf(done, 'grpc_client_msg_sent_total', bs), 4, 'each message counted once');
    assert.equal(valueOf(done, 'grpc_client_msg_received_total', bs), 4);
  });

  test('per-endpoint series show the spread, and go when the endpoint leaves', async () => {
    const [a, b] = await start(2);
    const resolver = memoryResolver();
    resolver.set('echo', [a.address, b.address]);
    const registry = new Registry();
    const c = client({ resolver, service: 'echo', middleware: [metrics({ registry })] });
    for (let i = 0; i < 20; i++) await outcome(c);
    await outcome(c, { failCode: grpc.status.UNAVAILABLE });
    await outcome(c, { failCode: grpc.status.INVALID_ARGUMENT });

    let s = await scrape(registry);
    const forA = valueOf(s, 'grpc_lb_endpoint_calls_total', { lb_service: 'echo', address: a.address, code_class: 'ok' })!;
    const forB = valueOf(s, 'grpc_lb_endpoint_calls_total', { lb_service: 'echo', address: b.address, code_class: 'ok' })!;
    assert.equal(forA + forB, 20);
    assert.equal(forA + failuresOn(a, s), a.calls.Unary, 'the series match what each server received');
    assert.equal(forB + failuresOn(b, s), b.calls.Unary);
    assert.equal(valueOf(s, 'grpc_lb_endpoint_calls_total', { lb_service: 'echo', code_class: 'endpoint_error' }), 1);
    assert.equal(valueOf(s, 'grpc_lb_endpoint_calls_total', { lb_service: 'echo', code_class: 'other_error' }), 1);
    assert.equal(valueOf(s, 'grpc_lb_endpoints', { lb_service: 'echo', state: 'ready' }), 2);
    assert.equal(valueOf(s, 'grpc_lb_endpoints', { lb_service: 'echo', state: 'draining' }), 0, 'every state present, zeros included');

    resolver.set('echo', [a.address]);
    await eventually(() => c.endpoints().length === 1, 3000, 'b closed');
    s = await scrape(registry);
    assert.equal(valueOf(s, 'grpc_lb_endpoint_calls_total', { address: b.address }), undefined, "b's series are gone");
    assert.ok(valueOf(s, 'grpc_lb_endpoint_calls_total', { address: a.address, code_class: 'ok' })! > 0, "a's stay");
    assert.equal(valueOf(s, 'grpc_lb_endpoints', { lb_service: 'echo', state: 'ready' }), 1);

    // Churn: addresses come and go; series follow the live set instead of piling up.
    const extra = await start(3);
    for (const server of extra) {
      resolver.set('echo', [a.address, server.address]);
      await eventually(() => c.endpoints().some((e) => e.address === server.address && e.available), 3000, 'new endpoint ready');
      for (let i = 0; i < 4; i++) await outcome(c);
    }
    resolver.set('echo', [a.address]);
    await eventually(() => c.endpoints().length === 1, 3000, 'churned endpoints closed');
    s = await scrape(registry);
    const addresses = new Set(s.filter((x) => x.name === 'grpc_lb_endpoint_calls_total').map((x) => x.labels.address));
    assert.deepEqual([...addresses], [a.address]);
  });

  test('with metrics.attempts inside retry and hedging: every attempt, retries and hedges counted', async () => {
    const [good, bad] = await start(2);
    bad.behaviour = { failCode: grpc.status.UNAVAILABLE };
    const registry = new Registry();
    const m = metrics({ registry });
    const c = client({
      target: `static:///${good.address},${bad.address}`,
      middleware: [m, retry({ maxAttempts: 3, budget: false, initialBackoffMs: 1 }), m.attempts],
    });
    await eventually(() => c.endpoints().filter((e) => e.available).length === 2);
    // At least 10 calls, and on until one first attempt has met the failing server: a picker
    // rebuild may trail the endpoints' readiness by a moment on a loaded machine.
    let calls = 0;
    while (calls < 10 || ((bad.calls.Unary ?? 0) === 0 && calls < 200)) {
      assert.equal(((await outcome(c)) as EchoReply).server, good.name, 'retries land on the good server');
      calls++;
    }

    const s = await scrape(registry);
    const retried = bad.calls.Unary ?? 0;
    assert.ok(retried > 0, 'some first attempts hit the failing server');
    assert.equal(valueOf(s, 'grpc_client_started_total', UNARY), calls, 'calls, not attempts');
    assert.equal(valueOf(s, 'grpc_client_handled_total', { ...UNARY, grpc_code: 'OK' }), calls);
    assert.equal(valueOf(s, 'grpc_lb_attempts_total', { ...UNARY, attempt: 'first' }), calls);
    assert.equal(valueOf(s, 'grpc_lb_attempts_total', { ...UNARY, attempt: 'retry_or_hedge' }), retried);
    assert.equal(valueOf(s, 'grpc_lb_endpoint_calls_total', { address: bad.address, code_class: 'endpoint_error' }), retried);
    assert.equal(valueOf(s, 'grpc_lb_endpoint_calls_total', { address: good.address, code_class: 'ok' }), calls);

    const [fast, slow] = await start(2);
    slow.behaviour = { delayMs: 300 };
    const hedgeRegistry = new Registry();
    const h = metrics({ registry: hedgeRegistry });
    const hc = client({ target: `static:///${fast.address},${slow.address}`, middleware: [h, hedge({ delayMs: 20, budget: false }), h.attempts] });
    await eventually(() => hc.endpoints().filter((e) => e.available).length === 2);
    for (let i = 0; i < 6; i++) assert.equal(((await outcome(hc)) as EchoReply).server, fast.name);
    // Attempts count when they finish: the losers' cancellations come in after their calls returned.
    await eventually(() => hc.endpoints().every((e) => e.inflight === 0), 3000, 'losing attempts finished');
    const hs = await scrape(hedgeRegistry);
    const hedges = valueOf(hs, 'grpc_lb_attempts_total', { ...UNARY, attempt: 'retry_or_hedge' })!;
    assert.equal(valueOf(hs, 'grpc_lb_attempts_total', { ...UNARY, attempt: 'first' }), 6);
    assert.ok(hedges >= 1 && hedges <= 6, `calls that started on the slow server were hedged: ${hedges}`);
    assert.equal(valueOf(hs, 'grpc_lb_endpoint_calls_total'), 6 + hedges, 'every attempt counted on its endpoint');
    assert.equal(valueOf(hs, 'grpc_lb_endpoint_calls_total', { address: fast.address, code_class: 'ok' }), 6, 'the winners');
    assert.equal(valueOf(hs, 'grpc_lb_endpoint_calls_total', { address: slow.address, code_class: 'other_error' }), hedges, 'the losers, cancelled');
  });

  test('resolver updates and errors, resolution age, pick failures', async () => {
    const [a] = await start(1);
    const resolver = memoryResolver();
    const registry = new Registry();
    let now = 1_000_000;
    const c = client({ resolver, service: 'echo', middleware: [metrics({ registry, now: () => now })], now: () => now, pickTimeoutMs: 50 });

    let s = await scrape(registry);
    assert.equal(valueOf(s, 'grpc_lb_resolution_age_seconds', { lb_service: 'echo' }), Infinity, 'never resolved');
    assert.equal(valueOf(s, 'grpc_lb_resolver_updates_total', { lb_service: 'echo' }), 0);

    resolver.set('echo', [a.address]);
    now += 2_500;
    resolver.fail('echo', new Error('registry unreachable'));
    resolver.fail('echo', new Error('registry unreachable'));
    s = await scrape(registry);
    assert.equal(valueOf(s, 'grpc_lb_resolver_updates_total', { lb_service: 'echo' }), 1);
    assert.equal(valueOf(s, 'grpc_lb_resolver_errors_total', { lb_service: 'echo' }), 2);
    assert.equal(valueOf(s, 'grpc_lb_resolution_age_seconds', { lb_service: 'echo' }), 2.5, 'errors do not refresh the age');

    const empty = client({ resolver, service: 'nothing', middleware: [metrics({ registry })] });
    resolver.set('nothing', []);
    const error = (await outcome(empty)) as grpc.ServiceError;
    assert.equal(error.code, grpc.status.UNAVAILABLE);
    s = await scrape(registry);
    assert.equal(valueOf(s, 'grpc_lb_pick_failures_total', { lb_service: 'nothing', grpc_code: 'Unavailable' }), 1);
  });

  test('health checking shows as not_serving', async () => {
    const a = await startEchoServer({ name: 'a' });
    track(a);
    const health = new HealthImplementation({ '': 'SERVING' });
    health.addToServer(a.server);
    const registry = new Registry();
    const c = client({ target: `static:///${a.address}`, healthCheck: true, middleware: [metrics({ registry })] });
    await eventually(() => c.endpoints()[0]?.available === true);
    health.setStatus('', 'NOT_SERVING');
    await eventually(() => c.endpoints()[0]?.serving === false);
    const s = await scrape(registry);
    assert.equal(valueOf(s, 'grpc_lb_endpoints', { lb_service: a.address, state: 'not_serving' }), 1);
    assert.equal(valueOf(s, 'grpc_lb_endpoints', { lb_service: a.address, state: 'ready' }), 0);
  });

  test('circuit breaker transitions and states', async () => {
    const [good, bad] = await start(2);
    bad.behaviour = { failCode: grpc.status.UNAVAILABLE };
    const resolver = memoryResolver();
    resolver.set('echo', [good.address, bad.address]);
    const registry = new Registry();
    const breaker = circuitBreaker({ consecutiveFailures: 2, openMs: 60_000 });
    const m = metrics({ registry, breakers: [breaker] });
    const c = client({ resolver, service: 'echo', middleware: [m, breaker, m.attempts] });
    await eventually(() => c.endpoints().filter((e) => e.available).length === 2);
    for (let i = 0; i < 10; i++) await outcome(c);
    await eventually(() => c.endpoints().some((e) => e.ejected), 3000, 'the failing endpoint ejected');

    const s = await scrape(registry);
    assert.equal(valueOf(s, 'grpc_lb_breaker_transitions_total', { lb_service: 'echo', scope: 'endpoint', from: 'closed', to: 'open' }), 1);
    assert.equal(valueOf(s, 'grpc_lb_breakers', { lb_service: 'echo', scope: 'endpoint', state: 'open' }), 1);
    assert.equal(valueOf(s, 'grpc_lb_breakers', { lb_service: 'echo', scope: 'endpoint', state: 'closed' }), 1);
    assert.equal(valueOf(s, 'grpc_lb_breakers', { lb_service: 'echo', scope: 'endpoint', state: 'half_open' }), 0);
    assert.equal(valueOf(s, 'grpc_lb_endpoints', { lb_service: 'echo', state: 'ejected' }), 1);
    assert.equal(valueOf(s, 'grpc_lb_endpoint_calls_total', { address: bad.address, code_class: 'endpoint_error' }), 2, 'no call reached it once open');
  });

  test('two clients and two metrics() on one registry add up without collisions; close removes a client', async () => {
    const [a, b] = await start(2);
    const registry = new Registry();
    const resolver = memoryResolver();
    resolver.set('echo', [a.address, b.address]);
    const one = client({ resolver, service: 'echo', middleware: [metrics({ registry })] });
    const two = client({ resolver, service: 'echo', middleware: [metrics({ registry })] });
    const other = client({ resolver, service: 'other', target: 'memory://user:secret@registry.local/other?token=abc', middleware: [metrics({ registry })] });
    resolver.set('other', [a.address]);
    for (let i = 0; i < 5; i++) await outcome(one);
    for (let i = 0; i < 7; i++) await outcome(two);
    for (let i = 0; i < 2; i++) await outcome(other);

    let s = await scrape(registry);
    assert.equal(valueOf(s, 'grpc_client_started_total', UNARY), 14);
    assert.equal(valueOf(s, 'grpc_lb_endpoint_calls_total', { lb_service: 'echo', code_class: 'ok' }), 12);
    assert.equal(valueOf(s, 'grpc_lb_endpoint_calls_total', { lb_service: 'other', code_class: 'ok' }), 2);
    assert.equal(valueOf(s, 'grpc_lb_endpoints', { lb_service: 'echo', state: 'ready' }), 4, "both clients' channels");
    assert.equal(valueOf(s, 'grpc_lb_clients', { lb_service: 'echo' }), 2);
    const targets = s.filter((x) => x.name === 'grpc_lb_clients' && x.labels.lb_service === 'other').map((x) => x.labels.target);
    assert.deepEqual(targets, ['memory://registry.local/other'], 'no userinfo or query in the label');
    assert.doesNotMatch(await registry.metrics(), /secret|token/);

    // The address both clients use stays while one of them still has it.
    two.close();
    s = await scrape(registry);
    assert.equal(valueOf(s, 'grpc_lb_clients', { lb_service: 'echo' }), 1);
    assert.equal(valueOf(s, 'grpc_lb_endpoints', { lb_service: 'echo', state: 'ready' }), 2);
    assert.equal(valueOf(s, 'grpc_lb_endpoint_calls_total', { lb_service: 'echo', code_class: 'ok' }), 12, 'the closed client\'s counts stay with the shared series');
    one.close();
    s = await scrape(registry);
    assert.equal(valueOf(s, 'grpc_lb_endpoints', { lb_service: 'echo' }), undefined);
    assert.equal(valueOf(s, 'grpc_lb_endpoint_calls_total', { lb_service: 'echo' }), undefined);
    assert.equal(valueOf(s, 'grpc_client_started_total', UNARY), 14, 'call counters are cumulative');
  });
});

/** Calls to `server` that failed, as the per-endpoint series counted them. */
function failuresOn(server: EchoServer, samples: Sample[]): number {
  return (
    (valueOf(samples, 'grpc_lb_endpoint_calls_total', { address: server.address, code_class: 'endpoint_error' }) ?? 0) +
    (valueOf(samples, 'grpc_lb_endpoint_calls_total', { address: server.address, code_class: 'other_error' }) ?? 0)
  );
}
