import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { circuitBreaker, retry } from '../../src';
import { eventually, isError, outcome, sleep, testBed } from '../helpers/calls';
import type { EchoReply } from '../helpers/echo-server';

// The edges of a call's life: slow readers, callers that give up, clients that close, and code
// of the user's that throws.
const { start, client } = testBed();

describe('streams', () => {
  test('a slow reader still gets every message of a server stream', async () => {
    const [s] = await start(1);
    const c = client({ target: `static:///${s.address}` });
    const got: number[] = [];
    for await (const reply of c.async.ServerStream({ message: 'x', count: 200 }) as AsyncIterable<EchoReply>) {
      got.push(reply.index);
      if (got.length % 20 === 0) await sleep(5);
    }
    assert.equal(got.length, 200);
    assert.equal(got[199], 199);
    await eventually(() => c.endpoints()[0].inflight === 0);
  });

  test('breaking out of for await cancels the call', async () => {
    const [s] = await start(1);
    s.behaviour = { delayMs: 10 };
    const c = client({ target: `static:///${s.address}` });
    let n = 0;
    for await (const _ of c.async.ServerStream({ message: 'x', count: 1000 }) as AsyncIterable<EchoReply>) if (++n === 3) break;
    await eventually(() => c.endpoints()[0].inflight === 0, 2000, 'the call to end');
  });

  test('a client stream stops pulling from its source once the call has failed', async () => {
    const c = client({ target: 'static:///127.0.0.1:1', connectTimeoutMs: 100, pickTimeoutMs: 200 });
    let pulled = 0;
    function* endless() {
      for (;;) {
        pulled++;
        yield { message: 'x' };
      }
    }
    await assert.rejects(c.async.ClientStream(endless()), (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE);
    const atFailure = pulled;
    await sleep(100);
    assert.ok(pulled - atFailure <= 1, `pulled ${pulled - atFailure} more after the call failed`);
    assert.ok(pulled < 100, `pulled ${pulled} in all`);
  });
});

describe('closing and failing', () => {
  test('close() cancels the calls in flight', async () => {
    const [s] = await start(1);
    s.behaviour = { stall: true };
    const c = client({ target: `static:///${s.address}` });
    const pending = outcome(c);
    await eventually(() => s.total() === 1);
    c.close();
    const result = await pending;
    assert.ok(isError(result));
    assert.equal(result.code, grpc.status.CANCELLED);
  });

  test('an observer that throws does not break the client', async () => {
    const [s] = await start(1);
    const c = client({ target: `static:///${s.address}` });
    c.observe({
      onEndpointAdded() {
        throw new Error('observer bug');
      },
      onEndpointChanged() {
        throw new Error('observer bug');
      },
    });
    const c2 = client({ target: `static:///${s.address}` });
    c2.observe({
      onResolved() {
        throw new Error('observer bug');
      },
    });
    for (const x of [c, c2]) {
      const result = await outcome(x);
      assert.ok(!isError(result), String(result));
    }
  });

  test('a service breaker whose probe ends in a thrown error still closes again', async () => {
    const [s] = await start(1);
    s.behaviour = { failCode: grpc.status.UNAVAILABLE };
    let throwing = false;
    const breaker = circuitBreaker({ scope: 'service', consecutiveFailures: 2, openMs: 100 });
    const onRetry = () => {
      if (throwing) throw new Error('hook bug');
    };
    const c = client({ target: `static:///${s.address}`, middleware: [breaker, retry({ maxAttempts: 2, budget: false, onRetry })] });
    await outcome(c);
    await outcome(c);
    assert.equal(breaker.states()[0].state, 'open');
    await sleep(150);
    throwing = true;
    const probe = await outcome(c);
    assert.ok(isError(probe) && probe.code === grpc.status.INTERNAL);
    throwing = false;
    s.behaviour = {};
    await sleep(150);
    await eventually(async () => !isError(await outcome(c)), 2000, 'a healthy call through the breaker');
    assert.equal(breaker.states()[0].state, 'closed');
  });
});

describe('deadlines and timers', () => {
  test('the async form honours a deadline given in callOptions', async () => {
    const [s] = await start(1);
    s.behaviour = { stall: true };
    const c = client({ target: `static:///${s.address}` });
    const started = Date.now();
    await assert.rejects(c.async.Unary({}, { callOptions: { deadline: Date.now() + 100 } }), (e: grpc.ServiceError) => e.code === grpc.status.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - started < 1000);
  });

  test('waits longer than a timer can hold do not spin', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const c = client({ target: 'static:///127.0.0.1:1', pickTimeoutMs: Infinity, connectTimeoutMs: 60_000 });
      const pending = outcome(c, {}, { deadline: Date.now() + 200 });
      let answer: Error | 'ok' | undefined;
      c.waitForReady(Date.now() + 40 * 24 * 3600 * 1000, (e) => (answer = e ?? 'ok'));
      const answered = () => answer;
      const result = await pending;
      assert.ok(isError(result));
      assert.equal(answered(), undefined, 'still waiting');
      c.close();
      await sleep(10);
      assert.ok(answered() instanceof Error, 'waitForReady answered when the client closed');
      assert.deepEqual(warnings.filter((w) => w === 'TimeoutOverflowWarning'), []);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
