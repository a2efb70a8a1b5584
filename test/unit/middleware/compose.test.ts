import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compose, type Middleware } from '../../../src';
import { context } from '../../helpers/context';


describe('compose', () => {
  test('the first middleware is the outermost', async () => {
    const order: string[] = [];
    const mw = (name: string): Middleware => (next) => async (ctx) => {
      order.push(`${name} in`);
      await next(ctx);
      order.push(`${name} out`);
    };
    const chain = compose([mw('a'), mw('b')], async (ctx) => {
      order.push('send');
      ctx.fail(grpc.status.OK, '');
    });
    await chain(context());
    assert.deepEqual(order, ['a in', 'b in', 'send', 'b out', 'a out']);
  });

  test('rejects what is not middleware, naming its place', () => {
    assert.throws(() => compose([(() => 1) as never], async () => undefined), /middleware\[0\] returned number/);
    assert.throws(() => compose([async (n: unknown) => n] as never, async () => undefined), /middleware\[0\] returned object/);
    assert.throws(() => compose(['x' as never], async () => undefined), /middleware\[0\] must be a function/);
  });
});

describe('CallContext', () => {
  test('forks share the tried set and are aborted with their parent, not the other way round', () => {
    const parent = context();
    const a = parent.fork();
    const b = parent.fork();
    a.tried.add('10.0.0.1:1');
    assert.ok(parent.tried.has('10.0.0.1:1'));
    a.abort();
    assert.equal(a.aborted, true);
    assert.equal(parent.aborted, false);
    assert.equal(b.aborted, false);
    let hooked = 0;
    b.onAbort(() => hooked++);
    parent.abort();
    assert.equal(b.aborted, true);
    assert.equal(b.signal.aborted, true);
    assert.equal(hooked, 1);
  });

  test('adopt takes a fork outcome; effectiveDeadline is the tighter of call and attempt', () => {
    const parent = context({ deadline: 1000 });
    const child = parent.fork();
    child.fail(grpc.status.UNAVAILABLE, 'down');
    child.attempt = 2;
    parent.adopt(child);
    assert.equal(parent.status?.code, grpc.status.UNAVAILABLE);
    assert.equal(parent.attempt, 2);
    parent.attemptDeadline = 500;
    assert.equal(parent.effectiveDeadline, 500);
    parent.attemptDeadline = 2000;
    assert.equal(parent.effectiveDeadline, 1000);
  });
});
