import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { circuitBreaker, retry, type BreakerStateChange } from '../../src/middleware';
import { eventually, isError, outcome, sleep, testBed } from '../helpers/calls';

const { status: Status } = grpc;
const { start, readyClient } = testBed();

describe('circuit breaker over real servers', () => {
  test('endpoint breaker: opens, the endpoint stops being picked, a half-open probe closes it again', async () => {
    const [bad, a, b] = await start(3);
    bad.behaviour = { failCode: Status.UNAVAILABLE };
    const changes: BreakerStateChange[] = [];
    let openedAt = 0;
    const breaker = circuitBreaker({
      consecutiveFailures: 3,
      openMs: 1_500,
      onStateChange: (change) => {
        changes.push(change);
        if (change.to === 'open') openedAt = Date.now();
      },
    });
    const c = await readyClient([bad.address, a.address, b.address], [retry({ budget: false, initialBackoffMs: 1 }), breaker]);

    for (let i = 0; i < 30 && breaker.state(bad.address) !== 'open'; i++) assert.ok(!isError(await outcome(c)), 'retry hides the failing endpoint');
    assert.equal(breaker.state(bad.address), 'open');
    assert.equal(bad.total(), 3, 'ejected after its third failure in a row');
    const info = c.endpoints().find((e) => e.address === bad.address)!;
    assert.equal(info.ejected, true);
    assert.equal(info.available, false);

    // Calls made well inside the open period (bounded by time: a loaded machine is slow).
    let made = 0;
    for (; made < 30 && Date.now() - openedAt < 1_000; made++) assert.ok(!isError(await outcome(c)));
    assert.ok(made > 0, 'calls were made while open');
    assert.equal(bad.total(), 3, 'an open endpoint gets no calls');

    bad.behaviour = {};
    await eventually(() => breaker.state(bad.address) === 'half_open', 3_000);
    for (let i = 0; i < 30; i++) await outcome(c);
    assert.equal(breaker.state(bad.address), 'closed', 'the probe succeeded');
    assert.ok(bad.total() >= 3 + 9, `back in rotation: ${bad.total()} calls`);
    assert.deepEqual(
      changes.map((x) => `${x.from}->${x.to}`),
      ['closed->open', 'open->half_open', 'half_open->closed'],
    );
    assert.equal(
      breaker.states().find((x) => x.key === bad.address)?.state,
      'closed',
    );
  });

  test('endpoint breaker: a failed probe sends it back to open; only one probe at a time', async () => {
    const [bad, good] = await start(2);
    bad.behaviour = { failCode: Status.UNAVAILABLE, delayMs: 100 };
    const breaker = circuitBreaker({ consecutiveFailures: 2, openMs: 300 });
    const c = await readyClient([bad.address, good.address], [retry({ budget: false, initialBackoffMs: 1 }), breaker]);
    for (let i = 0; i < 6; i++) await outcome(c);
    assert.equal(breaker.state(bad.address), 'open');
    await eventually(() => breaker.state(bad.address) === 'half_open', 1_000);
    const before = bad.total();
    // Ten calls at once while half-open: one probe reaches the bad endpoint, the rest go elsewhere.
    const results = await Promise.all(Array.from({ length: 10 }, () => outcome(c)));
    assert.equal(results.filter(isError).length, 0);
    assert.equal(bad.total() - before, 1);
    assert.equal(breaker.state(bad.address), 'open');
  });

  test('the max ejection share keeps half the endpoints in even when all fail', async () => {
    const list = await start(4);
    for (const s of list) s.behaviour = { failCode: Status.UNAVAILABLE };
    const breaker = circuitBreaker({ consecutiveFailures: 1 });
    const c = await readyClient(
      list.map((s) => s.address),
      [breaker],
    );
    for (let i = 0; i < 40; i++) await outcome(c);
    assert.equal(c.endpoints().filter((e) => e.ejected).length, 2);
  });

  test('service breaker: fails fast once open, without touching the servers', async () => {
    const list = await start(2);
    for (const s of list) s.behaviour = { failCode: Status.UNAVAILABLE };
    const breaker = circuitBreaker({ scope: 'service', consecutiveFailures: 3, openMs: 300 });
    const c = await readyClient(
      list.map((s) => s.address),
      [breaker, retry({ budget: false, initialBackoffMs: 1 })],
    );
    for (let i = 0; i < 3; i++) await outcome(c);
    const sent = list.reduce((n, s) => n + s.total(), 0);
    assert.equal(sent, 9, '3 calls × 3 attempts');
    assert.equal(breaker.state('echo'), 'open');
    const t0 = Date.now();
    const refused = await outcome(c);
    assert.ok(Date.now() - t0 < 50);
    assert.ok(isError(refused) && refused.code === Status.UNAVAILABLE);
    assert.match(refused.details, /^service circuit breaker is open for "echo" \(echo \(custom resolver\)\): 3 failures in a row; probing again in 0\.\d s$/);
    assert.equal(
      list.reduce((n, s) => n + s.total(), 0),
      sent,
      'a refused call is not sent, nor retried',
    );

    for (const s of list) s.behaviour = {};
    await sleep(320);
    assert.ok(!isError(await outcome(c)), 'after openMs a probe goes through');
    assert.equal(breaker.state('echo'), 'closed');
  });
});
