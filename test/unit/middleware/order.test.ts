import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compose, hedge, retry, timeout, type Middleware } from '../../../src';
import { declareKind, kindOf } from '../../../src/core/middleware-kind';
import { retryBudget } from '../../../src/middleware/budget';
import { context } from '../../helpers/context';

const passThrough = (): Middleware => (next) => next;
const terminal = async (ctx: ReturnType<typeof context>) => ctx.fail(grpc.status.OK, '');

describe('middleware order', () => {
  test("the library's middleware declare their kind; the user's have none", () => {
    assert.equal(kindOf(timeout(10)), 'timeout');
    assert.equal(kindOf(timeout(Infinity)), 'timeout');
    assert.equal(kindOf(retry()), 'retry');
    assert.equal(kindOf(hedge()), 'hedge');
    assert.equal(kindOf(passThrough()), undefined);
  });

  test('the README order composes, with middleware of no kind anywhere', async () => {
    const budget = retryBudget();
    const list = [
      declareKind(passThrough(), 'call-metrics'),
      passThrough(),
      timeout(1_000),
      declareKind(passThrough(), 'service-breaker'),
      retry({ budget }),
      hedge({ budget }),
      passThrough(),
      declareKind(passThrough(), 'endpoint-breaker'),
      declareKind(passThrough(), 'attempt-metrics'),
    ];
    const ctx = context();
    await compose(list, terminal)(ctx);
    assert.equal(ctx.status?.code, grpc.status.OK);
  });

  test('a kind inside one it must be wrapped by is refused, naming both places and why', () => {
    const endpointBreaker = declareKind(passThrough(), 'endpoint-breaker');
    const cases: [Middleware[], RegExp][] = [
      [[retry(), timeout(100)], /middleware\[0\] \(retry\) comes before middleware\[1\] \(timeout\), but timeout must be outside retry: the call's deadline must bound/],
      [[hedge(), passThrough(), timeout(100)], /middleware\[0\] \(hedge\) comes before middleware\[2\] \(timeout\)/],
      [[endpointBreaker, retry()], /middleware\[0\] \(endpoint-breaker\) comes before middleware\[1\] \(retry\).*must see every attempt/],
      [[declareKind(passThrough(), 'attempt-metrics'), hedge()], /\(attempt-metrics\) comes before middleware\[1\] \(hedge\)/],
      [[retry(), declareKind(passThrough(), 'service-breaker')], /service-breaker must be outside retry/],
      [[hedge(), retry()], /retry must be outside hedge: with both, retry goes outside hedge/],
      [[retry(), declareKind(passThrough(), 'call-metrics')], /call-metrics must be outside retry/],
    ];
    for (const [list, message] of cases) assert.throws(() => compose(list, terminal), (e: Error) => e instanceof TypeError && message.test(e.message), String(message));
  });

  test('kinds without a required order between them compose either way', () => {
    const endpointBreaker = declareKind(passThrough(), 'endpoint-breaker');
    const attempts = declareKind(passThrough(), 'attempt-metrics');
    assert.doesNotThrow(() => compose([attempts, endpointBreaker], terminal));
    assert.doesNotThrow(() => compose([declareKind(passThrough(), 'service-breaker'), timeout(5)], terminal));
  });
});
