import * as grpc from '@grpc/grpc-js';
import { HealthImplementation, service as healthService, type ServingStatus } from 'grpc-health-check';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createClient, memoryResolver, type Logger } from '../../src';
import { eventually, outcome, sleep, spread, testBed, unary, type Echo } from '../helpers/calls';
import { EchoClient, startEchoServer, type EchoServer } from '../helpers/echo-server';

type HealthResponse = { status: string };

const { track, client } = testBed();

/** An echo server that also serves grpc.health.v1 through grpc-health-check's own implementation. */
async function healthyServer(name: string, statuses: Record<string, ServingStatus> = { '': 'SERVING' }): Promise<{ server: EchoServer; health: HealthImplementation }> {
  const server = await startEchoServer({ name });
  track(server);
  const health = new HealthImplementation(statuses);
  health.addToServer(server.server);
  return { server, health };
}

/** An echo server with a hand-written health service, for behaviour the standard one never shows. */
async function customHealthServer(name: string, implementation: grpc.UntypedServiceImplementation): Promise<EchoServer> {
  const server = await startEchoServer({ name });
  track(server);
  server.server.addService(healthService as unknown as grpc.ServiceDefinition, implementation);
  return server;
}

function serving(c: Echo, address: string): boolean | undefined {
  return c.endpoints().find((e) => e.address === address)?.serving;
}

function availableCount(c: Echo): number {
  return c.endpoints().filter((e) => e.available).length;
}

interface Entry {
  level: keyof Logger;
  fields: Record<string, unknown>;
  message?: string;
}

function recordingLogger(): { logger: Logger; entries: Entry[] } {
  const entries: Entry[] = [];
  const at = (level: keyof Logger) => (fields: object, message?: string) => entries.push({ level, fields: fields as Record<string, unknown>, message });
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, entries };
}

describe('health checking over real servers', () => {
  test('NOT_SERVING takes an endpoint out of the picker and SERVING brings it back (Watch)', async () => {
    const a = await healthyServer('a');
    const b = await healthyServer('b');
    const { logger, entries } = recordingLogger();
    const c = client({ target: `static:///${a.server.address},${b.server.address}`, healthCheck: true, logger });
    await eventually(() => availableCount(c) === 2, 5000, 'both endpoints available');

    b.health.setStatus('', 'NOT_SERVING');
    await eventually(() => serving(c, b.server.address) === false, 3000, 'b reported not serving');
    assert.equal(availableCount(c), 1);
    a.server.resetCounts();
    b.server.resetCounts();
    assert.deepEqual(await spread(c, 30), { a: 30 });
    assert.equal(b.server.total(), 0, 'no call reached the NOT_SERVING server');
    const out = entries.find((e) => e.level === 'warn' && e.fields.address === b.server.address && e.fields.status === 'NOT_SERVING');
    assert.ok(out, 'the transition is logged at warn with the address and status');

    b.health.setStatus('', 'SERVING');
    await eventually(() => serving(c, b.server.address) === true, 3000, 'b reported serving again');
    const counts = await spread(c, 30);
    assert.ok((counts.b ?? 0) >= 10, `b takes calls again: ${JSON.stringify(counts)}`);
  });

  test('every endpoint NOT_SERVING: calls fail UNAVAILABLE naming the health check', async () => {
    const a = await healthyServer('a');
    const c = client({ target: `static:///${a.server.address}`, healthCheck: true });
    await eventually(() => availableCount(c) === 1);
    a.health.setStatus('', 'NOT_SERVING');
    await eventually(() => serving(c, a.server.address) === false);
    a.server.resetCounts();
    const error = (await outcome(c)) as grpc.ServiceError;
    assert.equal(error.code, grpc.status.UNAVAILABLE);
    assert.match(error.details, /not serving \(health check\)/);
    assert.equal(a.server.total(), 0);
  });

  test('checks the named service: SERVICE_UNKNOWN and a NOT_SERVING service keep the endpoint out', async () => {
    const a = await healthyServer('a', { '': 'SERVING', 'test.echo.Echo': 'NOT_SERVING' });
    const b = await healthyServer('b', { '': 'SERVING', 'test.echo.Echo': 'SERVING' });
    const named = client({ target: `static:///${a.server.address},${b.server.address}`, healthCheck: { service: 'test.echo.Echo' } });
    await eventually(() => serving(named, a.server.address) === false && availableCount(named) === 1, 5000, 'a out by its named service');
    assert.deepEqual(await spread(named, 10), { b: 10 });

    const whole = client({ target: `static:///${a.server.address}`, healthCheck: true });
    await eventually(() => availableCount(whole) === 1, 5000, "the whole server ('') is serving");

    const unknown = client({ target: `static:///${b.server.address}`, healthCheck: { service: 'no.such.Service' } });
    await eventually(() => serving(unknown, b.server.address) === false, 5000, 'SERVICE_UNKNOWN counts as not serving');
  });

  test('falls back to Check polling where Watch is not implemented', async () => {
    let status = 'SERVING';
    let checks = 0;
    const a = await customHealthServer('a', {
      Check: (_call: grpc.ServerUnaryCall<unknown, HealthResponse>, callback: grpc.sendUnaryData<HealthResponse>) => {
        checks++;
        callback(null, { status });
      },
    });
    const b = await healthyServer('b');
    const c = client({ target: `static:///${a.address},${b.server.address}`, healthCheck: { intervalMs: 50 } });
    await eventually(() => availableCount(c) === 2 && checks >= 2, 5000, 'a polled and available');

    status = 'NOT_SERVING';
    await eventually(() => serving(c, a.address) === false, 3000, 'a out after a NOT_SERVING Check');
    a.resetCounts();
    assert.deepEqual(await spread(c, 20), { b: 20 });
    assert.equal(a.total(), 0);

    status = 'SERVING';
    await eventually(() => serving(c, a.address) === true, 3000, 'a back after a SERVING Check');
    const polled = checks;
    await sleep(300);
    // Loose bounds: a busy machine delays timers, but polling neither stops nor runs unpaced.
    assert.ok(checks - polled >= 2 && checks - polled <= 12, `polls every ~50 ms: ${checks - polled} in 300 ms`);
  });

  test('a server without a health service counts as serving', async () => {
    const plain = await startEchoServer({ name: 'plain' });
    track(plain);
    const { logger, entries } = recordingLogger();
    const c = client({ target: `static:///${plain.address}`, healthCheck: { intervalMs: 50 }, logger });
    await eventually(() => entries.some((e) => e.level === 'warn' && /neither health Watch nor Check/.test(e.message ?? '')), 5000, 'warned once');
    assert.equal(serving(c, plain.address), true);
    assert.equal((await unary(c)).server, 'plain');
    await sleep(200);
    assert.equal(entries.filter((e) => e.level === 'warn').length, 1, 'warned once, not at every poll');

    // The same, counted on the server: one Watch, one Check, then no more probing.
    const probes = { watch: 0, check: 0 };
    const unimplemented = { code: grpc.status.UNIMPLEMENTED, details: 'no health here' };
    const counted = await customHealthServer('counted', {
      Watch: (call: grpc.ServerWritableStream<unknown, HealthResponse>) => {
        probes.watch++;
        call.emit('error', unimplemented);
      },
      Check: (_call: grpc.ServerUnaryCall<unknown, HealthResponse>, callback: grpc.sendUnaryData<HealthResponse>) => {
        probes.check++;
        callback(unimplemented);
      },
    });
    const d = client({ target: `static:///${counted.address}`, healthCheck: { intervalMs: 20 } });
    await eventually(() => probes.check === 1, 5000, 'fell back to Check');
    await sleep(200);
    assert.deepEqual(probes, { watch: 1, check: 1 });
    assert.equal((await unary(d)).server, 'counted');
  });

  test('a broken Watch is re-established with backoff and keeps following the server', async () => {
    let watches = 0;
    let status = 'SERVING';
    const live = new Set<grpc.ServerWritableStream<unknown, HealthResponse>>();
    const a = await customHealthServer('a', {
      Watch: (call: grpc.ServerWritableStream<unknown, HealthResponse>) => {
        watches++;
        call.write({ status });
        if (watches === 1) {
          // The first Watch breaks right after its first answer.
          setTimeout(() => call.emit('error', { code: grpc.status.INTERNAL, details: 'health watch broke' }), 20);
          return;
        }
        live.add(call);
        call.on('cancelled', () => live.delete(call));
      },
    });
    const c = client({ target: `static:///${a.address}`, healthCheck: true, random: () => 0.5 });
    await eventually(() => watches === 1 && availableCount(c) === 1);
    const brokeAt = Date.now();
    await eventually(() => watches === 2, 5000, 'second Watch');
    const waited = Date.now() - brokeAt;
    assert.ok(waited >= 700, `waited a backoff before re-establishing (${waited} ms)`);
    assert.equal(availableCount(c), 1, 'the last known state held while the Watch was down');

    status = 'NOT_SERVING';
    for (const call of live) call.write({ status });
    await eventually(() => serving(c, a.address) === false, 3000, 'the new Watch is followed');
  });

  test('a Watch with no answer within the timeout counts as not serving', async () => {
    // The client's timer starts when it sends the Watch: after the client was made, and before the
    // Watch reaches the server (by however long a loaded machine takes to deliver it).
    let watchAt = 0;
    const a = await customHealthServer('a', {
      Watch: () => {
        watchAt ||= Date.now(); // never answers
      },
    });
    const createdAt = Date.now();
    const c = client({ target: `static:///${a.address}`, healthCheck: { timeoutMs: 150 } });
    await eventually(() => c.endpoints()[0]?.state === 'ready', 5000, 'connected');
    await eventually(() => serving(c, a.address) === false, 3000, 'timed out');
    const notServingAt = Date.now();
    assert.ok(watchAt > 0, 'the Watch reached the server');
    assert.ok(notServingAt - createdAt >= 150, `not before the timeout (${notServingAt - createdAt} ms after the client was made)`);
    assert.ok(notServingAt - watchAt >= 75, `not at once when the Watch arrives (${notServingAt - watchAt} ms after it did)`);
    const error = (await outcome(c)) as grpc.ServiceError;
    assert.equal(error.code, grpc.status.UNAVAILABLE);
  });

  test('stops watching an endpoint that leaves, and everything on close', async () => {
    const live = new Map<string, number>();
    const watchOn = (name: string) => (call: grpc.ServerWritableStream<unknown, HealthResponse>) => {
      live.set(name, (live.get(name) ?? 0) + 1);
      call.write({ status: 'SERVING' });
      call.on('cancelled', () => live.set(name, live.get(name)! - 1));
    };
    const a = await customHealthServer('a', { Watch: watchOn('a') });
    const b = await customHealthServer('b', { Watch: watchOn('b') });
    const resolver = memoryResolver();
    resolver.set('echo', [a.address, b.address]);
    const c = client({ resolver, service: 'echo', healthCheck: true });
    await eventually(() => live.get('a') === 1 && live.get('b') === 1, 5000, 'one Watch per endpoint');

    resolver.set('echo', [a.address]);
    await eventually(() => live.get('b') === 0, 3000, "the leaving endpoint's Watch is cancelled");
    assert.equal(live.get('a'), 1);

    c.close();
    await eventually(() => live.get('a') === 0, 3000, 'close cancels every Watch');
  });

  test('rejects bad options, naming the field', () => {
    assert.throws(() => createClient(EchoClient, { target: 'static:///127.0.0.1:1', healthCheck: { intervalMs: 0 } }), /options\.healthCheck\.intervalMs/);
    assert.throws(() => createClient(EchoClient, { target: 'static:///127.0.0.1:1', healthCheck: { timeoutMs: Number.NaN } }), /options\.healthCheck\.timeoutMs/);
    assert.throws(() => createClient(EchoClient, { target: 'static:///127.0.0.1:1', healthCheck: { service: 7 as unknown as string } }), /options\.healthCheck\.service/);
    assert.throws(() => createClient(EchoClient, { target: 'static:///127.0.0.1:1', healthCheck: 'yes' as unknown as boolean }), /options\.healthCheck/);
  });
});
