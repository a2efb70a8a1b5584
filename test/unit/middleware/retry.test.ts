import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CallContext } from '../../../src';
import { compose, retry, retryBudget, type Next, type RetryEvent, type RetryOptions } from '../../../src/middleware';
import { context } from '../../helpers/context';

const { status: Status } = grpc;

interface Seen {
  attempt: number;
  attemptDeadline: number;
  previousAttempts: string | undefined;
  address: string;
}

/**
 * A stand-in for the transport: attempt n fails with codes[n] (OK past the end), on address
 * "10.0.0.<n>", recording what it saw. `trailers` adds metadata to attempt n's status.
 */
function script(codes: grpc.status[], trailers: Record<number, Record<string, string | string[]>> = {}) {
  const seen: Seen[] = [];
  const next: Next = async (ctx) => {
    ctx.resetOutcome();
    const n = seen.length;
    const address = `10.0.0.${n + 1}:50051`;
    ctx.tried.add(address);
    seen.push({
      attempt: ctx.attempt,
      attemptDeadline: ctx.attemptDeadline,
      previousAttempts: ctx.metadata.get('grpc-previous-rpc-attempts')[0] as string | undefined,
      address,
    });
    const metadata = new grpc.Metadata();
    for (const [key, value] of Object.entries(trailers[n] ?? {})) for (const v of [value].flat()) metadata.add(key, v);
    const code = codes[n] ?? Status.OK;
    ctx.fail(code, code === Status.OK ? '' : `attempt ${n + 1} failed`, metadata);
  };
  return { next, seen };
}

/** Deterministic time: sleep advances the clock and records the wait. */
function clock(start = 1_000_000) {
  const state = { t: start, sleeps: [] as number[] };
  return {
    state,
    now: () => state.t,
    sleep: async (ms: number) => {
      state.sleeps.push(ms);
      state.t += ms;
    },
  };
}

function run(options: RetryOptions, next: Next, ctx: CallContext = context()): Promise<CallContext> {
  return compose([retry(options)], next)(ctx).then(() => ctx);
}

describe('retry', () => {
  test('retries UNAVAILABLE until an attempt succeeds; numbers the attempts', async () => {
    const { next, seen } = script([Status.UNAVAILABLE, Status.UNAVAILABLE]);
    const time = clock();
    const callerMetadata = new grpc.Metadata();
    const ctx = await run({ ...time, random: () => 0.5 }, next, context({ metadata: callerMetadata }));
    assert.equal(ctx.status?.code, Status.OK);
    assert.deepEqual(
      seen.map((s) => s.attempt),
      [1, 2, 3],
    );
    assert.equal(ctx.attempt, 3);
    assert.deepEqual(
      seen.map((s) => s.previousAttempts),
      [undefined, '1', '2'],
      'A6 header on retries',
    );
    assert.equal(callerMetadata.get('grpc-previous-rpc-attempts').length, 0, "the caller's metadata object is left alone");
    assert.equal(ctx.tried.size, 3, 'attempts share the tried set');
  });

  test('maxAttempts counts every attempt, the first included', async () => {
    const { next, seen } = script(Array(10).fill(Status.UNAVAILABLE));
    const ctx = await run({ ...clock(), maxAttempts: 4, budget: false }, next);
    assert.equal(seen.length, 4);
    assert.equal(ctx.status?.code, Status.UNAVAILABLE);
    assert.equal(ctx.status?.details, 'attempt 4 failed', 'the last failure is what the caller sees');
  });

  test('maxAttempts 1 never retries, and still applies attemptTimeoutMs', async () => {
    const { next, seen } = script([Status.UNAVAILABLE]);
    await run({ ...clock(), maxAttempts: 1 }, next);
    assert.equal(seen.length, 1);
    const time = clock();
    const timed = script([Status.DEADLINE_EXCEEDED]);
    await run({ ...time, maxAttempts: 1, attemptTimeoutMs: 50 }, timed.next);
    assert.equal(timed.seen.length, 1);
    assert.equal(timed.seen[0].attemptDeadline, time.state.t + 50);
  });

  test('does not retry codes outside retryableCodes (default: UNAVAILABLE only)', async () => {
    for (const code of [Status.INVALID_ARGUMENT, Status.NOT_FOUND, Status.DEADLINE_EXCEEDED, Status.INTERNAL, Status.RESOURCE_EXHAUSTED]) {
      const { next, seen } = script([code]);
      const ctx = await run(clock(), next);
      assert.equal(seen.length, 1, `${Status[code]} was retried`);
      assert.equal(ctx.status?.code, code);
    }
  });

  test('retryableCodes replaces the default list', async () => {
    const a = script([Status.RESOURCE_EXHAUSTED]);
    assert.equal((await run({ ...clock(), retryableCodes: [Status.RESOURCE_EXHAUSTED] }, a.next)).status?.code, Status.OK);
    assert.equal(a.seen.length, 2);
    const b = script([Status.UNAVAILABLE]);
    await run({ ...clock(), retryableCodes: [Status.RESOURCE_EXHAUSTED] }, b.next);
    assert.equal(b.seen.length, 1);
  });

  test('exponential backoff with full jitter, capped', async () => {
    const { next } = script(Array(6).fill(Status.UNAVAILABLE));
    const time = clock();
    await run({ ...time, random: () => 0.5, maxAttempts: 6, initialBackoffMs: 100, maxBackoffMs: 500, budget: false }, next);
    assert.deepEqual(time.state.sleeps, [50, 100, 200, 250, 250]);
  });

  test('equal jitter waits at least half the cap', async () => {
    const { next } = script(Array(4).fill(Status.UNAVAILABLE));
    const time = clock();
    await run({ ...time, random: () => 0, jitter: 'equal', maxAttempts: 4, initialBackoffMs: 100, backoffMultiplier: 3, budget: false }, next);
    assert.deepEqual(time.state.sleeps, [50, 150, 450]);
  });

  test('does not sleep past the deadline: the last failure stands', async () => {
    const { next, seen } = script(Array(5).fill(Status.UNAVAILABLE));
    const time = clock();
    const ctx = await run({ ...time, random: () => 0.99, initialBackoffMs: 100, maxAttempts: 5 }, next, context({ deadline: time.state.t + 60 }));
    assert.equal(seen.length, 1, 'a 99 ms wait does not fit in 60 ms');
    assert.deepEqual(time.state.sleeps, []);
    assert.equal(ctx.status?.code, Status.UNAVAILABLE);
  });

  test('does not start an attempt with less than minAttemptMs left', async () => {
    const time = clock();
    const tight = script(Array(5).fill(Status.UNAVAILABLE));
    // 100 ms left; each wait is 47.5 ms: after the first retry only 52.5 ms remain, minus 47.5 → 5 < 10.
    await run({ ...time, random: () => 0.95, initialBackoffMs: 50, backoffMultiplier: 1, minAttemptMs: 10, maxAttempts: 5 }, tight.next, context({ deadline: time.state.t + 100 }));
    assert.equal(tight.seen.length, 2);
  });

  test("server pushback: a non-negative integer is the exact wait and resets the backoff", async () => {
    const { next, seen } = script([Status.UNAVAILABLE, Status.UNAVAILABLE, Status.UNAVAILABLE], { 1: { 'grpc-retry-pushback-ms': '300' } });
    const time = clock();
    const ctx = await run({ ...time, random: () => 0.5, initialBackoffMs: 100, maxAttempts: 4, budget: false }, next);
    assert.equal(ctx.status?.code, Status.OK);
    assert.equal(seen.length, 4);
    assert.deepEqual(time.state.sleeps, [50, 300, 50], 'backoff after a pushback starts again from initialBackoffMs');
  });

  test('server pushback that is negative, garbage or repeated stops retrying', async () => {
    for (const value of ['-1', 'later', '1e3', ['5', '6']]) {
      const { next, seen } = script([Status.UNAVAILABLE], { 0: { 'grpc-retry-pushback-ms': value } });
      const ctx = await run(clock(), next);
      assert.equal(seen.length, 1, `pushback ${JSON.stringify(value)} was retried`);
      assert.equal(ctx.status?.code, Status.UNAVAILABLE);
    }
  });

  test('a pushback on a non-retryable code does not make it retryable', async () => {
    const { next, seen } = script([Status.INTERNAL], { 0: { 'grpc-retry-pushback-ms': '5' } });
    await run(clock(), next);
    assert.equal(seen.length, 1);
  });

  test('a pushback longer than the time left ends the call', async () => {
    const { next, seen } = script([Status.UNAVAILABLE], { 0: { 'grpc-retry-pushback-ms': '5000' } });
    const time = clock();
    await run(time, next, context({ deadline: time.state.t + 1000 }));
    assert.equal(seen.length, 1);
  });

  test('an attempt whose server had sent response headers is committed: no retry (A6)', async () => {
    let calls = 0;
    const next: Next = async (ctx) => {
      ctx.resetOutcome();
      calls++;
      ctx.responseMetadata = new grpc.Metadata();
      ctx.fail(Status.UNAVAILABLE, 'broke after the headers');
    };
    const ctx = await run(clock(), next);
    assert.equal(calls, 1);
    assert.equal(ctx.status?.code, Status.UNAVAILABLE);
  });

  test('a cancelled call is not retried', async () => {
    const ctx = context();
    let calls = 0;
    const next: Next = async (c) => {
      calls++;
      c.abort(Status.CANCELLED);
      c.fail(Status.UNAVAILABLE, 'gone');
    };
    await run(clock(), next, ctx);
    assert.equal(calls, 1);
  });

  test('a cancel during the backoff ends the wait and the call with CANCELLED', async () => {
    const { next, seen } = script([Status.UNAVAILABLE]);
    const ctx = context();
    let slept = false;
    const pending = run({ sleep: () => ((slept = true), new Promise<void>(() => undefined)), random: () => 1 }, next, ctx);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(slept, true);
    ctx.abort(Status.CANCELLED);
    await pending;
    assert.equal(seen.length, 1);
    assert.equal(ctx.status?.code, Status.CANCELLED);
  });

  test('the default sleep is a real timer that a cancel cuts short', async () => {
    const { next, seen } = script([Status.UNAVAILABLE]);
    const ctx = context();
    const started = Date.now();
    const pending = run({ initialBackoffMs: 10_000, random: () => 1 }, next, ctx);
    setTimeout(() => ctx.abort(Status.CANCELLED), 20);
    await pending;
    assert.ok(Date.now() - started < 1_000);
    assert.equal(seen.length, 1);
    assert.equal(ctx.status?.code, Status.CANCELLED);
  });

  test('attemptTimeoutMs bounds each attempt; an attempt it cuts short is retried; the outer value comes back', async () => {
    const time = clock();
    const seen: number[] = [];
    let n = 0;
    const next: Next = async (ctx) => {
      seen.push(ctx.attemptDeadline - time.state.t);
      time.state.t += 200;
      ctx.fail(n++ < 2 ? Status.DEADLINE_EXCEEDED : Status.OK, '');
    };
    const ctx = context({ deadline: time.state.t + 10_000 });
    await run({ ...time, random: () => 0, attemptTimeoutMs: 200 }, next, ctx);
    assert.deepEqual(seen, [200, 200, 200]);
    assert.equal(ctx.status?.code, Status.OK);
    assert.equal(ctx.attemptDeadline, Infinity);
  });

  test('attemptTimeoutMs never extends past the call deadline; a DEADLINE_EXCEEDED of the call is final', async () => {
    const time = clock();
    const seen: number[] = [];
    const next: Next = async (ctx) => {
      seen.push(ctx.effectiveDeadline - time.state.t);
      time.state.t = ctx.effectiveDeadline;
      ctx.fail(Status.DEADLINE_EXCEEDED, '');
    };
    await run({ ...time, random: () => 0, attemptTimeoutMs: 200 }, next, context({ deadline: time.state.t + 300 }));
    assert.deepEqual(seen, [200, 100]);
  });

  test('budget: once spent, calls are not retried; successes refill it', async () => {
    const budget = retryBudget({ maxTokens: 4, tokenRatio: 1 });
    const time = clock();
    const mw = retry({ ...time, budget });
    const failing = script(Array(100).fill(Status.UNAVAILABLE));
    const chain = compose([mw], failing.next);
    await chain(context());
    assert.equal(failing.seen.length, 2, '4 tokens → 3 → retry → 2: no more');
    await chain(context());
    assert.equal(failing.seen.length, 3, 'spent: the next call gets one attempt');
    const ok = script([]);
    const okChain = compose([mw], ok.next);
    for (let i = 0; i < 3; i++) await okChain(context());
    assert.equal(budget.tokens, 4);
    await chain(context());
    assert.equal(failing.seen.length, 5, 'refilled: a retry again');
  });

  test('without a budget option, each client gets its own bucket', async () => {
    const mw = retry({ ...clock(), random: () => 0 });
    const a = script(Array(1000).fill(Status.UNAVAILABLE));
    const chainA = compose([mw], a.next);
    const view = context().client;
    for (let i = 0; i < 100; i++) await chainA(context({ client: view }));
    assert.ok(a.seen.length / 100 <= 1.6, `client A: ${a.seen.length} attempts for 100 calls`);
    const b = script([Status.UNAVAILABLE]);
    await compose([mw], b.next)(context());
    assert.equal(b.seen.length, 2, "another client's bucket is still full");
  });

  test("detaching a client lets go of its budget", async () => {
    const mw = retry({ ...clock(), random: () => 0 });
    const view = context().client;
    const failing = script(Array(1000).fill(Status.UNAVAILABLE));
    const chain = compose([mw], failing.next);
    for (let i = 0; i < 100; i++) await chain(context({ client: view }));
    const spent = failing.seen.length;
    await chain(context({ client: view }));
    assert.equal(failing.seen.length, spent + 1, 'spent');
    const detach = mw.attach!(view) as () => void;
    detach();
    await chain(context({ client: view }));
    assert.equal(failing.seen.length, spent + 1 + 3, 'a client seen afresh starts with a full bucket: 3 attempts');
  });

  test('onRetry hears each retry before it is sent', async () => {
    const events: Omit<RetryEvent, 'ctx'>[] = [];
    const { next } = script([Status.UNAVAILABLE, Status.UNAVAILABLE]);
    await run({ ...clock(), random: () => 0.5, initialBackoffMs: 10, onRetry: ({ ctx: _ctx, ...event }) => events.push(event) }, next);
    assert.deepEqual(
      events.map((e) => [e.attempt, e.delayMs, e.status.code]),
      [
        [2, 5, Status.UNAVAILABLE],
        [3, 10, Status.UNAVAILABLE],
      ],
    );
  });

  test('streaming calls pass through without retry', async () => {
    for (const type of ['server_stream', 'client_stream', 'bidi_stream'] as const) {
      const { next, seen } = script([Status.UNAVAILABLE]);
      await run(clock(), next, context({ type }));
      assert.equal(seen.length, 1, type);
    }
  });

  test('rejects bad options at construction, naming the field', () => {
    const cases: [RetryOptions, RegExp][] = [
      [{ maxAttempts: 0 }, /options.maxAttempts must be an integer >= 1/],
      [{ maxAttempts: 2.5 }, /options.maxAttempts/],
      [{ retryableCodes: [] }, /options.retryableCodes must be a non-empty array/],
      [{ retryableCodes: [Status.OK] }, /options.retryableCodes holds 0/],
      [{ retryableCodes: [99 as grpc.status] }, /options.retryableCodes holds 99/],
      [{ initialBackoffMs: 0 }, /options.initialBackoffMs/],
      [{ initialBackoffMs: 500, maxBackoffMs: 100 }, /options.maxBackoffMs \(100\) must be >= options.initialBackoffMs/],
      [{ backoffMultiplier: 0.5 }, /options.backoffMultiplier must be a finite number >= 1/],
      [{ jitter: 'half' as never }, /options.jitter must be 'full' or 'equal'/],
      [{ attemptTimeoutMs: -1 }, /options.attemptTimeoutMs/],
      [{ minAttemptMs: -1 }, /options.minAttemptMs/],
      [{ budget: {} as never }, /options.budget must be a RetryBudget/],
      [{ now: 5 as never }, /options.now must be a function/],
      [{ random: 'x' as never }, /options.random must be a function/],
      [{ sleep: 1 as never }, /options.sleep must be a function/],
      [{ onRetry: true as never }, /options.onRetry must be a function/],
    ];
    for (const [options, message] of cases) {
      assert.throws(() => retry(options), (error: unknown) => error instanceof TypeError && message.test(error.message) && error.message.startsWith('retry:'), JSON.stringify(options));
    }
    assert.throws(() => retry(null as never), /retry: options must be an object/);
  });
});
