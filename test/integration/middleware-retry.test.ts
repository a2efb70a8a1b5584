import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CallContext } from '../../src';
import { retry, timeout, type Middleware } from '../../src/middleware';
import { eventually, isError, outcome, sleep, testBed } from '../helpers/calls';
import { echoService } from '../helpers/echo-server';

const { status: Status } = grpc;
const { start, readyClient, closeLater } = testBed();

/** Records, per call, the address of every attempt (it sits just above the pick). */
function attemptLog(): { middleware: Middleware; calls: Map<CallContext, string[]> } {
  const calls = new Map<CallContext, string[]>();
  const middleware: Middleware = (next) => async (ctx) => {
    await next(ctx);
    const list = calls.get(ctx) ?? [];
    list.push(ctx.endpoint?.address ?? '(none)');
    calls.set(ctx, list);
  };
  return { middleware, calls };
}

describe('retry over real servers', () => {
  test('recovers from failing endpoints, never trying one endpoint twice in a call', async () => {
    const [bad1, bad2, good] = await start(3);
    bad1.behaviour = { failCode: Status.UNAVAILABLE };
    bad2.behaviour = { failCode: Status.UNAVAILABLE };
    const log = attemptLog();
    const c = await readyClient([bad1.address, bad2.address, good.address], [retry({ maxAttempts: 3, budget: false, initialBackoffMs: 1 }), log.middleware]);
    const results = await Promise.all(Array.from({ length: 60 }, () => outcome(c)));
    assert.equal(results.filter(isError).length, 0, 'every call succeeded');
    assert.ok(results.every((r) => !isError(r) && r.server === 's2'));
    for (const [ctx, addresses] of log.calls) {
      assert.equal(new Set(addresses).size, addresses.length, `a call tried one endpoint twice: ${addresses.join(', ')}`);
      assert.equal(ctx.attempt, addresses.length);
    }
    assert.equal(good.total(), 60);
    assert.equal(bad1.total() + bad2.total() + good.total(), [...log.calls.values()].reduce((n, a) => n + a.length, 0), 'server-side count = attempts');
    assert.ok(bad1.total() > 0 && bad2.total() > 0);
  });

  test('calls in flight on a server that is killed are retried elsewhere', async () => {
    const [doomed, survivor] = await start(2);
    doomed.behaviour = { delayMs: 2_000 };
    const c = await readyClient([doomed.address, survivor.address], [retry({ budget: false, initialBackoffMs: 1 })]);
    const pending = Promise.all(Array.from({ length: 6 }, () => outcome(c)));
    // Every call has reached a server and some wait on the doomed one (usually half: the split
    // depends on when the picker took in the second endpoint, which the assertions below do not).
    await eventually(() => doomed.total() + survivor.total() === 6 && doomed.total() > 0);
    // Resets its streams: the client sees CANCELLED (RST_STREAM CANCEL) or UNAVAILABLE, not its own cancel.
    doomed.forceStop();
    const results = await pending;
    assert.equal(results.filter(isError).length, 0, results.filter(isError).map(String).join('; '));
    assert.equal(survivor.total(), 6);
  });

  test('never retries a non-retryable code (server-side count = calls)', async () => {
    const list = await start(3);
    for (const s of list) s.behaviour = { failCode: Status.INVALID_ARGUMENT };
    const c = await readyClient(
      list.map((s) => s.address),
      [retry({ maxAttempts: 5, budget: false })],
    );
    const results = await Promise.all(Array.from({ length: 30 }, () => outcome(c)));
    assert.ok(results.every((r) => isError(r) && r.code === Status.INVALID_ARGUMENT));
    assert.equal(
      list.reduce((n, s) => n + s.total(), 0),
      30,
    );
  });

  test('the call deadline bounds every attempt and the backoff; per-attempt timeouts are retried', async () => {
    const list = await start(3);
    for (const s of list) s.behaviour = { stall: true };
    const c = await readyClient(
      list.map((s) => s.address),
      [timeout(350), retry({ attemptTimeoutMs: 100, maxAttempts: 10, initialBackoffMs: 1, budget: false })],
    );
    const started = Date.now();
    const result = await outcome(c);
    const took = Date.now() - started;
    assert.ok(isError(result) && result.code === Status.DEADLINE_EXCEEDED, String(result));
    assert.ok(took >= 300 && took < 600, `took ${took} ms`);
    await eventually(() => list.reduce((n, s) => n + s.total(), 0) >= 3);
    const attempts = list.reduce((n, s) => n + s.total(), 0);
    assert.ok(attempts >= 3 && attempts <= 4, `${attempts} attempts in 350 ms at 100 ms each`);
  });

  test("a caller's deadline shorter than the backoff: no retry, the failure comes back at once", async () => {
    const [s] = await start(1);
    s.behaviour = { failCode: Status.UNAVAILABLE };
    const c = await readyClient([s.address], [retry({ initialBackoffMs: 5_000, random: () => 1, budget: false })]);
    const started = Date.now();
    const result = await outcome(c, {}, { deadline: Date.now() + 1_000 });
    assert.ok(Date.now() - started < 300);
    assert.ok(isError(result) && result.code === Status.UNAVAILABLE);
    assert.equal(s.total(), 1);
  });

  test("server pushback: '-1' stops retrying, a number sets the wait", async () => {
    let pushback = '-1';
    const arrivals: number[] = [];
    const server = new grpc.Server();
    server.addService(echoService, {
      Unary: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => {
        arrivals.push(Date.now());
        const metadata = new grpc.Metadata();
        metadata.set('grpc-retry-pushback-ms', pushback);
        callback({ code: Status.UNAVAILABLE, details: 'busy', metadata });
      },
    });
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    closeLater(() => server.forceShutdown());
    const c = await readyClient([`127.0.0.1:${port}`], [retry({ maxAttempts: 2, budget: false, initialBackoffMs: 1 })]);

    const stopped = await outcome(c);
    assert.ok(isError(stopped) && stopped.code === Status.UNAVAILABLE);
    assert.equal(arrivals.length, 1, 'a negative pushback is not retried');

    pushback = '150';
    arrivals.length = 0;
    await outcome(c);
    assert.equal(arrivals.length, 2);
    assert.ok(arrivals[1] - arrivals[0] >= 145, `waited ${arrivals[1] - arrivals[0]} ms`);
  });

  test('a cancelled call is not retried', async () => {
    const [s] = await start(1);
    s.behaviour = { delayMs: 100, failCode: Status.UNAVAILABLE };
    const c = await readyClient([s.address], [retry({ budget: false, initialBackoffMs: 1 })]);
    const controller = new AbortController();
    const pending = new Promise<grpc.ServiceError | null>((resolve) => c.unary({}, new grpc.Metadata(), { signal: controller.signal }, (err: grpc.ServiceError | null) => resolve(err)));
    await eventually(() => s.total() === 1);
    controller.abort();
    const err = await pending;
    assert.equal(err?.code, Status.CANCELLED);
    await sleep(200);
    assert.equal(s.total(), 1);
  });

  test('with the default budget, a dead service sees about one attempt per call', async () => {
    const list = await start(3);
    for (const s of list) s.behaviour = { failCode: Status.UNAVAILABLE };
    const c = await readyClient(
      list.map((s) => s.address),
      [retry({ initialBackoffMs: 1 })],
    );
    const calls = 1_000;
    for (let i = 0; i < calls; i += 50) await Promise.all(Array.from({ length: 50 }, () => outcome(c)));
    const attempts = list.reduce((n, s) => n + s.total(), 0);
    assert.ok(attempts / calls <= 1.1, `attempts ÷ calls = ${attempts / calls}`);
    assert.ok(attempts > calls, 'some retries before the budget ran out');
  });
});
