import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { describe, test } from 'node:test';
import { hedge, retry, retryBudget, timeout } from '../../src/middleware';
import { eventually, isError, outcome, testBed, type Echo } from '../helpers/calls';

const { status: Status } = grpc;
const { start, readyClient } = testBed();

/** Latencies of `n` calls, `concurrency` at a time: p99 in ms, and the share of calls slower than 300 ms. */
async function p99(c: Echo, n: number, concurrency: number): Promise<{ p99: number; slowShare: number; failures: number }> {
  const latencies: number[] = [];
  let failures = 0;
  for (let i = 0; i < n; i += concurrency) {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        const t0 = performance.now();
        if (isError(await outcome(c, { message: 'hi' }, { deadline: Date.now() + 5_000 }))) failures++;
        latencies.push(performance.now() - t0);
      }),
    );
  }
  latencies.sort((a, b) => a - b);
  return {
    p99: latencies[Math.min(latencies.length - 1, Math.floor(0.99 * latencies.length))],
    slowShare: latencies.filter((ms) => ms > 300).length / latencies.length,
    failures,
  };
}

describe('hedge over real servers', () => {
  test('cuts the p99 of a slow endpoint', async (t) => {
    const list = await start(3);
    list[0].behaviour = { delayMs: 400 };
    const addresses = list.map((s) => s.address);
    const plain = await readyClient(addresses, []);
    const hedged = await readyClient(addresses, [hedge({ delayMs: 40 })]);
    const without = await p99(plain, 90, 9);
    const withHedge = await p99(hedged, 90, 9);
    assert.equal(without.failures + withHedge.failures, 0);
    assert.ok(without.p99 >= 390, `without hedging p99 ${without.p99.toFixed(0)} ms`);
    const ratio = withHedge.p99 / without.p99;
    t.diagnostic(`p99 without hedging ${without.p99.toFixed(0)} ms, with ${withHedge.p99.toFixed(0)} ms: ratio ${ratio.toFixed(2)}`);
    // The tail as a share of calls rather than one p99 sample, which a single pause of a loaded
    // machine's event loop decides: without hedging a third of the calls wait out the slow
    // endpoint; with it, hardly any.
    assert.ok(without.slowShare >= 0.2, `without hedging ${(without.slowShare * 100).toFixed(0)} % of calls took > 300 ms`);
    assert.ok(withHedge.slowShare <= 0.05, `with hedging ${(withHedge.slowShare * 100).toFixed(0)} % of calls took > 300 ms (p99 ratio ${ratio.toFixed(2)})`);
  });

  test('gets past a stalled endpoint; the stalled attempt is cancelled on the server', async () => {
    const list = await start(2);
    list[0].behaviour = { stall: true };
    const c = await readyClient(
      list.map((s) => s.address),
      [timeout(3_000), hedge({ delayMs: 50 })],
    );
    const t0 = performance.now();
    const results = await Promise.all(Array.from({ length: 20 }, () => outcome(c)));
    const took = performance.now() - t0;
    assert.equal(results.filter(isError).length, 0);
    assert.ok(results.every((r) => !isError(r) && r.server === 's1'));
    assert.ok(took < 1_000, `took ${took.toFixed(0)} ms`);
    // Losers were cancelled rather than left to the 3 s deadline: the stalled endpoint has no calls in flight.
    await eventually(() => c.endpoints().every((e) => e.inflight === 0), 1_000);
  });

  test('a fatal failure is not hedged past: the call ends with it', async () => {
    const list = await start(2);
    for (const s of list) s.behaviour = { delayMs: 60, failCode: Status.PERMISSION_DENIED };
    const c = await readyClient(
      list.map((s) => s.address),
      [hedge({ delayMs: 10, maxAttempts: 2 })],
    );
    const result = await outcome(c);
    assert.ok(isError(result) && result.code === Status.PERMISSION_DENIED);
  });

  test('maxAttempts bounds the attempts per call', async () => {
    const list = await start(3);
    for (const s of list) s.behaviour = { delayMs: 150 };
    const c = await readyClient(
      list.map((s) => s.address),
      [hedge({ delayMs: 20, maxAttempts: 2, budget: false })],
    );
    await Promise.all(Array.from({ length: 10 }, () => outcome(c)));
    assert.equal(
      list.reduce((n, s) => n + s.total(), 0),
      20,
    );
  });

  test('shares a budget with retry', async () => {
    const list = await start(2);
    for (const s of list) s.behaviour = { failCode: Status.UNAVAILABLE };
    const budget = retryBudget({ maxTokens: 10 });
    const c = await readyClient(
      list.map((s) => s.address),
      [retry({ budget, initialBackoffMs: 1 }), hedge({ budget, delayMs: 20 })],
    );
    for (let i = 0; i < 50; i++) await outcome(c);
    const attempts = list.reduce((n, s) => n + s.total(), 0);
    assert.ok(budget.tokens <= 5);
    assert.ok(attempts <= 50 + 10, `${attempts} attempts for 50 calls`);
  });
});
