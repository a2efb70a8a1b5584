import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compose, timeout, type Next } from '../../../src/middleware';
import { context } from '../../helpers/context';

const seenDeadline = (): { next: Next; deadlines: number[] } => {
  const deadlines: number[] = [];
  return {
    deadlines,
    next: async (ctx) => {
      deadlines.push(ctx.deadline);
    },
  };
};

describe('timeout', () => {
  test('sets the deadline of the whole call from its start', async () => {
    const { next, deadlines } = seenDeadline();
    const ctx = context({ startedAt: 10_000 });
    await compose([timeout(250)], next)(ctx);
    assert.deepEqual(deadlines, [10_250]);
    assert.equal(ctx.deadline, 10_250);
  });

  test("never raises a caller's tighter deadline", async () => {
    const { next, deadlines } = seenDeadline();
    await compose([timeout(1_000)], next)(context({ startedAt: 10_000, deadline: 10_100 }));
    assert.deepEqual(deadlines, [10_100]);
  });

  test('lowers a looser caller deadline', async () => {
    const { next, deadlines } = seenDeadline();
    await compose([timeout(100)], next)(context({ startedAt: 10_000, deadline: 20_000 }));
    assert.deepEqual(deadlines, [10_100]);
  });

  test('two timeouts: the tighter one wins, whatever the order', async () => {
    for (const order of [[timeout(100), timeout(300)], [timeout(300), timeout(100)]]) {
      const { next, deadlines } = seenDeadline();
      await compose(order, next)(context({ startedAt: 0 }));
      assert.deepEqual(deadlines, [100]);
    }
  });

  test('Infinity leaves the deadline alone', async () => {
    const { next, deadlines } = seenDeadline();
    await compose([timeout(Infinity)], next)(context({ startedAt: 0 }));
    assert.deepEqual(deadlines, [Infinity]);
  });

  test('streams are left alone unless asked for', async () => {
    for (const type of ['server_stream', 'client_stream', 'bidi_stream'] as const) {
      const plain = seenDeadline();
      await compose([timeout(100)], plain.next)(context({ type, startedAt: 0 }));
      assert.deepEqual(plain.deadlines, [Infinity], type);
      const bounded = seenDeadline();
      await compose([timeout(100, { streams: true })], bounded.next)(context({ type, startedAt: 0 }));
      assert.deepEqual(bounded.deadlines, [100], type);
    }
  });

  test('rejects a bad duration, naming it', () => {
    for (const bad of [0, -5, Number.NaN, '100' as unknown as number, undefined as unknown as number]) {
      assert.throws(() => timeout(bad), (error: unknown) => error instanceof TypeError && /timeout\(ms\): ms must be a finite number > 0/.test(error.message));
    }
    assert.throws(() => timeout(10, { streams: 'yes' as never }), /timeout: options.streams must be a boolean/);
  });
});
