import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CallContext } from '../../../src';
import { compose, hedge, retryBudget, type HedgeEvent, type HedgeOptions, type Next, type Timers } from '../../../src/middleware';
import { context } from '../../helpers/context';

const { status: Status } = grpc;

/** Time that moves only when told; timers fire in order as it passes them. */
class FakeTime implements Timers {
  t = 1_000_000;
  created = 0;
  private seq = 0;
  private pending = new Map<number, { at: number; seq: number; callback: () => void }>();

  now = (): number => this.t;

  setTimeout = (callback: () => void, ms: number): unknown => {
    const id = ++this.seq;
    this.created++;
    this.pending.set(id, { at: this.t + ms, seq: id, callback });
    return id;
  };

  clearTimeout = (handle: unknown): void => {
    this.pending.delete(handle as number);
  };

  /** Moves time forward by `ms`, firing due timers and letting promise chains run after each. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      let first: [number, { at: number; seq: number; callback: () => void }] | undefined;
      for (const entry of this.pending) if (entry[1].at <= end && (!first || entry[1].at < first[1].at || (entry[1].at === first[1].at && entry[1].seq < first[1].seq))) first = entry;
      if (!first) break;
      this.pending.delete(first[0]);
      this.t = Math.max(this.t, first[1].at);
      first[1].callback();
    }
    this.t = end;
    await settle();
  }
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

interface Attempt {
  ctx: CallContext;
  address: string;
  answer(code: grpc.status, trailers?: Record<string, string>): void;
}

/**
 * A transport stand-in whose attempts stay open until the test answers them; a cancelled
 * attempt ends CANCELLED as grpc-js's would. Each attempt goes to the next address.
 */
function transport() {
  const attempts: Attempt[] = [];
  const next: Next = (ctx) =>
    new Promise<void>((resolve) => {
      ctx.resetOutcome();
      const address = `10.0.0.${attempts.length + 1}:50051`;
      ctx.tried.add(address);
      let done = false;
      const end = (code: grpc.status, trailers: Record<string, string> = {}) => {
        if (done) return;
        done = true;
        const metadata = new grpc.Metadata();
        for (const [k, v] of Object.entries(trailers)) metadata.set(k, v);
        ctx.fail(code, code === Status.OK ? '' : `${address} says ${Status[code]}`, metadata);
        ctx.response = code === Status.OK ? { from: address } : undefined;
        resolve();
      };
      ctx.onAbort(() => queueMicrotask(() => end(Status.CANCELLED)));
      attempts.push({ ctx, address, answer: end });
    });
  return { next, attempts };
}

function start(options: HedgeOptions, ctx: CallContext = context()) {
  const time = (options.timers as FakeTime | undefined) ?? new FakeTime();
  const { next, attempts } = transport();
  let finished = false;
  const done = compose([hedge({ now: time.now, timers: time, ...options })], next)(ctx).then(() => {
    finished = true;
  });
  return { time, attempts, ctx, done, finished: () => finished };
}

describe('hedge', () => {
  test('an answer within the delay: one attempt, no hedge', async () => {
    const call = start({ delayMs: 50 });
    await call.time.advance(10);
    assert.equal(call.attempts.length, 1);
    call.attempts[0].answer(Status.OK);
    await call.done;
    assert.equal(call.ctx.status?.code, Status.OK);
    assert.deepEqual(call.ctx.response, { from: '10.0.0.1:50051' });
    await call.time.advance(100);
    assert.equal(call.attempts.length, 1, 'the queued wake-up of a finished call sends nothing');
  });

  test('no answer after the delay: a second attempt on another endpoint; the first OK wins, the other is cancelled', async () => {
    const call = start({ delayMs: 50 });
    await call.time.advance(49);
    assert.equal(call.attempts.length, 1);
    await call.time.advance(1);
    assert.equal(call.attempts.length, 2);
    const [first, second] = call.attempts;
    assert.notEqual(first.ctx, call.ctx, 'attempts run on forks');
    assert.equal(second.ctx.tried, call.ctx.tried, 'forks share the tried set, so the picker avoids the first endpoint');
    assert.ok(second.ctx.tried.has(first.address));
    assert.equal(second.ctx.attempt, 2);
    assert.equal(second.ctx.metadata.get('grpc-previous-rpc-attempts')[0], '1');
    second.answer(Status.OK);
    await call.done;
    assert.equal(call.ctx.status?.code, Status.OK);
    assert.equal(call.ctx.attempt, 2);
    assert.deepEqual(call.ctx.response, { from: '10.0.0.2:50051' });
    await settle();
    assert.equal(first.ctx.aborted, true, 'the loser is cancelled');
    assert.equal(first.ctx.status?.code, Status.CANCELLED);
    assert.equal(call.ctx.aborted, false);
  });

  test('maxAttempts bounds the attempts in all, one per delay', async () => {
    const call = start({ delayMs: 50, maxAttempts: 3 });
    await call.time.advance(50);
    assert.equal(call.attempts.length, 2);
    await call.time.advance(50);
    assert.equal(call.attempts.length, 3);
    await call.time.advance(500);
    assert.equal(call.attempts.length, 3);
    call.attempts[0].answer(Status.OK);
    await call.done;
    assert.equal(call.ctx.attempt, 1, 'the first attempt won after all');
  });

  test('a fatal failure commits at once, cancelling the others', async () => {
    const call = start({ delayMs: 50 });
    await call.time.advance(50);
    call.attempts[0].answer(Status.INVALID_ARGUMENT);
    await call.done;
    assert.equal(call.ctx.status?.code, Status.INVALID_ARGUMENT);
    await settle();
    assert.equal(call.attempts[1].ctx.status?.code, Status.CANCELLED);
  });

  test('a non-fatal failure lets the other attempt carry on, and sends the next one at once', async () => {
    const call = start({ delayMs: 50, maxAttempts: 3 });
    await call.time.advance(50);
    call.attempts[0].answer(Status.UNAVAILABLE);
    await settle();
    assert.equal(call.attempts.length, 3, 'the third attempt did not wait for the delay');
    assert.equal(call.finished(), false);
    call.attempts[1].answer(Status.OK);
    await call.done;
    assert.equal(call.ctx.status?.code, Status.OK);
  });

  test('a non-fatal failure before the delay: the hedge goes at once', async () => {
    const call = start({ delayMs: 50 });
    await call.time.advance(5);
    call.attempts[0].answer(Status.UNAVAILABLE);
    await settle();
    assert.equal(call.attempts.length, 2);
    call.attempts[1].answer(Status.OK);
    await call.done;
    assert.equal(call.ctx.status?.code, Status.OK);
    await call.time.advance(200);
    assert.equal(call.attempts.length, 2);
  });

  test('when every attempt fails non-fatally, the last failure is the outcome', async () => {
    const call = start({ delayMs: 50, maxAttempts: 2 });
    await call.time.advance(50);
    call.attempts[0].answer(Status.UNAVAILABLE);
    await settle();
    assert.equal(call.finished(), false, 'one attempt still in flight');
    call.attempts[1].answer(Status.UNAVAILABLE);
    await call.done;
    assert.equal(call.ctx.status?.code, Status.UNAVAILABLE);
    assert.equal(call.ctx.status?.details, '10.0.0.2:50051 says UNAVAILABLE');
  });

  test('a spent budget sends no hedge', async () => {
    const budget = retryBudget({ maxTokens: 2 });
    budget.onFailure();
    const call = start({ delayMs: 50, budget });
    await call.time.advance(500);
    assert.equal(call.attempts.length, 1);
    call.attempts[0].answer(Status.OK);
    await call.done;
    assert.equal(budget.tokens, 1.1, 'a success puts tokenRatio back');
  });

  test('non-fatal failures take from the shared budget', async () => {
    const budget = retryBudget({ maxTokens: 10 });
    const call = start({ delayMs: 50, maxAttempts: 3, budget });
    call.attempts[0].answer(Status.UNAVAILABLE);
    await settle();
    call.attempts[1].answer(Status.UNAVAILABLE);
    await settle();
    call.attempts[2].answer(Status.UNAVAILABLE);
    await call.done;
    assert.equal(budget.tokens, 7);
  });

  test('no hedge with less than minAttemptMs before the deadline', async () => {
    const time = new FakeTime();
    const call = start({ delayMs: 50, minAttemptMs: 20, timers: time }, context({ deadline: time.t + 60 }));
    await call.time.advance(55);
    assert.equal(call.attempts.length, 1);
  });

  test('pushback: a wait delays the next attempt; a stop ends hedging', async () => {
    const waited = start({ delayMs: 50, maxAttempts: 3 });
    waited.attempts[0].answer(Status.UNAVAILABLE, { 'grpc-retry-pushback-ms': '200' });
    await waited.time.advance(199);
    assert.equal(waited.attempts.length, 1, 'not before the pushback');
    await waited.time.advance(1);
    assert.equal(waited.attempts.length, 2);
    waited.attempts[1].answer(Status.OK);
    await waited.done;
    assert.equal(waited.ctx.status?.code, Status.OK);

    const stopped = start({ delayMs: 50, maxAttempts: 3 });
    stopped.attempts[0].answer(Status.UNAVAILABLE, { 'grpc-retry-pushback-ms': '-1' });
    await stopped.done;
    assert.equal(stopped.attempts.length, 1);
    assert.equal(stopped.ctx.status?.code, Status.UNAVAILABLE);
  });

  test('a cancel while waiting out a pushback ends the call CANCELLED at once', async () => {
    const call = start({ delayMs: 50, maxAttempts: 3 });
    call.attempts[0].answer(Status.UNAVAILABLE, { 'grpc-retry-pushback-ms': '10000' });
    await settle();
    call.ctx.abort(Status.CANCELLED);
    await call.done;
    assert.equal(call.ctx.status?.code, Status.CANCELLED);
    assert.equal(call.attempts.length, 1);
  });

  test("the caller's cancel reaches every attempt", async () => {
    const call = start({ delayMs: 50 });
    await call.time.advance(50);
    call.ctx.abort(Status.CANCELLED);
    await call.done;
    assert.equal(call.ctx.status?.code, Status.CANCELLED);
    assert.ok(call.attempts.every((a) => a.ctx.aborted));
    await call.time.advance(500);
    assert.equal(call.attempts.length, 2);
  });

  test('one shared timer serves the first hedge of many calls', async () => {
    const time = new FakeTime();
    const { next, attempts } = transport();
    const chain = compose([hedge({ delayMs: 50, now: time.now, timers: time })], next);
    const calls: Promise<void>[] = [];
    // 100 calls over 200 ms, each answered after 20 ms: many in flight at once, none hedged.
    for (let i = 0; i < 100; i++) {
      calls.push(chain(context()));
      if (i >= 10) attempts[i - 10].answer(Status.OK);
      await time.advance(2);
    }
    for (const a of attempts) a.answer(Status.OK);
    await Promise.all(calls);
    await time.advance(100);
    assert.equal(attempts.length, 100, 'all answered before their delay');
    // One wake-up per delay's worth of time (300 ms / 50 ms), not one per call.
    assert.ok(time.created <= 8, `${time.created} timers for 100 calls`);
  });

  test('the queue wakes calls in order as their delays pass', async () => {
    const time = new FakeTime();
    const { next, attempts } = transport();
    const chain = compose([hedge({ delayMs: 50, now: time.now, timers: time })], next);
    chain(context());
    await time.advance(20);
    chain(context());
    await time.advance(30);
    assert.equal(attempts.length, 3, 'the first call hedged at 50 ms');
    await time.advance(19);
    assert.equal(attempts.length, 3);
    await time.advance(1);
    assert.equal(attempts.length, 4, 'the second call hedged at 70 ms');
    for (const a of attempts) a.answer(Status.OK);
  });

  test('onHedge hears each extra attempt and why', async () => {
    const events: [number, string][] = [];
    const call = start({ delayMs: 50, maxAttempts: 3, onHedge: (e: HedgeEvent) => events.push([e.attempt, e.reason]) });
    await call.time.advance(50);
    call.attempts[0].answer(Status.UNAVAILABLE);
    await settle();
    call.attempts[2].answer(Status.OK);
    await call.done;
    assert.deepEqual(events, [
      [2, 'delay'],
      [3, 'failure'],
    ]);
  });

  test('streaming calls pass through', async () => {
    const { next, attempts } = transport();
    const ctx = context({ type: 'server_stream' });
    const pending = compose([hedge({ delayMs: 1 })], next)(ctx);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(attempts.length, 1);
    assert.equal(attempts[0].ctx, ctx, 'no fork for a stream');
    attempts[0].answer(Status.OK);
    await pending;
  });

  test('a hook that throws fails its call, not the process, and the queue goes on', async () => {
    const time = new FakeTime();
    const { next, attempts } = transport();
    let throwing = true;
    const chain = compose(
      [
        hedge({
          delayMs: 50,
          now: time.now,
          timers: time,
          onHedge: () => {
            if (throwing) throw new Error('hook bug');
          },
        }),
      ],
      next,
    );
    const first = chain(context());
    const outcome = first.then(
      () => 'resolved',
      (error: Error) => error.message,
    );
    await time.advance(10);
    const second = chain(context());
    await time.advance(40);
    assert.equal(await outcome, 'hook bug');
    assert.equal(attempts[0].ctx.aborted, true, "the failed call's attempt is cancelled");
    throwing = false;
    await time.advance(10);
    assert.equal(attempts.length, 3, 'the second call still hedged on time');
    attempts[2].answer(Status.OK);
    await second;
  });

  test('a middleware below that throws fails the call once', async () => {
    const time = new FakeTime();
    const next: Next = async () => {
      throw new Error('boom');
    };
    await assert.rejects(compose([hedge({ now: time.now, timers: time })], next)(context()), /boom/);
  });

  test('rejects bad options at construction, naming the field', () => {
    const cases: [HedgeOptions, RegExp][] = [
      [{ delayMs: 0 }, /options.delayMs must be a finite number > 0/],
      [{ maxAttempts: 0 }, /options.maxAttempts must be an integer >= 1/],
      [{ nonFatalCodes: [] }, /options.nonFatalCodes must be a non-empty array/],
      [{ nonFatalCodes: [Status.OK] }, /options.nonFatalCodes holds 0/],
      [{ minAttemptMs: -1 }, /options.minAttemptMs/],
      [{ budget: 3 as never }, /options.budget/],
      [{ timers: {} as never }, /options.timers must have setTimeout/],
      [{ now: 1 as never }, /options.now must be a function/],
      [{ onHedge: 1 as never }, /options.onHedge must be a function/],
    ];
    for (const [options, message] of cases) {
      assert.throws(() => hedge(options), (error: unknown) => error instanceof TypeError && message.test(error.message) && error.message.startsWith('hedge:'), JSON.stringify(options));
    }
  });
});
