import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ClientEndpoint, type ClientView } from '../../../src';
import type { ClientControl } from '../../../src/core/view';
import { circuitBreaker, compose, type CircuitBreaker, type CircuitBreakerOptions, type Middleware, type Next } from '../../../src/middleware';
import { context } from '../../helpers/context';
import { readyEndpoints } from '../../helpers/ready-endpoints';

const { status: Status } = grpc;


/**
 * A client of `n` endpoints with `chain` in front of a transport stand-in: each call goes to the
 * endpoint `route` names among the available ones and gets the code `answer` gives.
 */
function bed(n: number, chain: Middleware[]) {
  const list = readyEndpoints(n);
  const view: ClientView = { service: 'svc', target: 'memory:///svc', endpoints: () => list, observe: () => () => undefined, lastResolvedAt: () => 0 };
  const control: ClientControl = {
    eject: (endpoint, reason) => list.find((e) => e === endpoint)?.setEjected(true, reason),
    restore: (endpoint, reason) => list.find((e) => e === endpoint)?.setEjected(false, reason),
    channelOf: () => undefined,
  };
  for (const mw of chain) mw.attach?.(view, control);
  let route = (available: ClientEndpoint[], i: number) => available[i % available.length];
  let answer = (_endpoint: ClientEndpoint): grpc.status => Status.OK;
  let sent = 0;
  const transport: Next = async (ctx) => {
    ctx.resetOutcome();
    const available = list.filter((e) => e.available);
    const endpoint = route(available, sent++);
    ctx.endpoint = endpoint;
    for (const mw of chain) mw.picked?.(ctx, endpoint);
    const code = answer(endpoint);
    ctx.fail(code, code === Status.OK ? '' : 'failed');
  };
  const run = compose(chain, transport);
  return {
    list,
    route: (r: typeof route) => (route = r),
    answer: (a: typeof answer) => (answer = a),
    calls: async (count: number) => {
      for (let i = 0; i < count; i++) await run(context({ client: view }));
    },
  };
}

const service = (options: CircuitBreakerOptions = {}): CircuitBreaker => circuitBreaker({ scope: 'service', ...options });

describe('service breaker: judges the service, not one instance', () => {
  test('by default a run of failures does not open it (rate over a window, at least 200 calls)', async () => {
    const breaker = service();
    const b = bed(3, [breaker]);
    b.answer(() => Status.UNAVAILABLE);
    await b.calls(199);
    assert.equal(breaker.state('svc'), 'closed', '199 failures are fewer than minSamples');
    await b.calls(1);
    assert.equal(breaker.state('svc'), 'open', 'a 100 % failure rate over 200 calls opens it');
  });

  test('failures confined to one endpoint an endpoint breaker may eject never open it; spread ones do', async () => {
    const breaker = service({ minSamples: 20 });
    const b = bed(3, [breaker, circuitBreaker({ consecutiveFailures: 1_000, minSamples: 10_000 })]);
    // Every call goes to the first endpoint, which fails: 100 % failures, all on one instance.
    b.route((available) => available[0]);
    b.answer((e) => (e === b.list[0] ? Status.UNAVAILABLE : Status.OK));
    await b.calls(300);
    assert.equal(breaker.state('svc'), 'closed');
    // Now every instance fails.
    b.route((available, i) => available[i % available.length]);
    b.answer(() => Status.UNAVAILABLE);
    await b.calls(60);
    assert.equal(breaker.state('svc'), 'open');
  });

  test('the consecutive mode, asked for, sets the worst endpoint aside the same way', async () => {
    const breaker = service({ consecutiveFailures: 5 });
    const b = bed(3, [breaker, circuitBreaker({ consecutiveFailures: 1_000 })]);
    b.route((available) => available[0]);
    b.answer(() => Status.UNAVAILABLE);
    await b.calls(20);
    assert.equal(breaker.state('svc'), 'closed', 'twenty in a row, all from one instance');
    b.route((available, i) => available[i % available.length]);
    await b.calls(10);
    assert.equal(breaker.state('svc'), 'open', 'failures from every instance');
  });

  test('without an endpoint breaker in the chain, one endpoint’s failures count like any others', async () => {
    const breaker = service({ minSamples: 20 });
    const b = bed(3, [breaker]);
    b.route((available) => available[0]);
    b.answer(() => Status.UNAVAILABLE);
    await b.calls(20);
    assert.equal(breaker.state('svc'), 'open');
  });

  test('when the endpoint breaker may eject no more (the other instance is out), the last one’s failures count', async () => {
    const breaker = service({ minSamples: 20 });
    const b = bed(2, [breaker, circuitBreaker({ consecutiveFailures: 1_000 })]);
    b.list[1].setEjected(true);
    b.answer(() => Status.UNAVAILABLE);
    await b.calls(20);
    assert.equal(breaker.state('svc'), 'open');
  });
});

describe('breaker window', () => {
  test('rolling 1,000 buckets after any idle time is one pass over them', () => {
    let now = 0;
    const breaker = service({ buckets: 1_000, now: () => now });
    const b = bed(1, [breaker]);
    return b.calls(5).then(async () => {
      assert.equal(breaker.states()[0].samples, 5);
      for (const idle of [7, 9_999, 1e12, 1e15]) {
        now += idle;
        const started = performance.now();
        const samples = breaker.states()[0].samples;
        assert.ok(performance.now() - started < 50, `after ${idle} ms idle`);
        assert.ok(samples <= 5);
      }
      assert.equal(breaker.states()[0].samples, 0);
    });
  });
});
