import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CallContext, ClientEndpoint } from '../../../src';
import { compose, retry, retryBudget, type Next, type RetryEvent, type RetryOptions } from '../../../src/middleware';
import { context } from '../../helpers/context';

const { status: Status } = grpc;

interface Answer {
  code: grpc.status;
  details?: string;
  /** The server had sent response headers before failing. */
  headers?: boolean;
}

/** A transport stand-in: attempt n answers answers[n] (OK past the end) from endpoint "10.0.0.<n+1>". */
function script(answers: Answer[]) {
  const sent: string[] = [];
  const next: Next = async (ctx) => {
    ctx.resetOutcome();
    const n = sent.length;
    const address = `10.0.0.${n + 1}:50051`;
    sent.push(address);
    ctx.tried.add(address);
    ctx.endpoint = { address } as ClientEndpoint;
    const answer = answers[n] ?? { code: Status.OK };
    if (answer.headers) ctx.responseMetadata = new grpc.Metadata();
    ctx.fail(answer.code, answer.details ?? (answer.code === Status.OK ? '' : `attempt ${n + 1} failed`));
  };
  return { next, sent };
}

const fiveEndpoints = () => context({ client: { service: 'svc', target: 'memory:///svc', endpoints: () => new Array(5).fill({}), observe: () => () => undefined, lastResolvedAt: () => 0 } });

function run(options: RetryOptions, next: Next, ctx: CallContext = fiveEndpoints()): Promise<CallContext> {
  return compose([retry({ sleep: async () => undefined, ...options })], next)(ctx).then(() => ctx);
}

const RESET = { code: Status.UNAVAILABLE, details: 'read ECONNRESET', headers: true };
const NEVER_SENT = { code: Status.UNAVAILABLE, details: 'No connection established. Last error: connect ECONNREFUSED 10.0.0.1:50051' };

describe('retry after response headers', () => {
  test('is never replayed by default: the server may have acted on it', async () => {
    const { next, sent } = script([RESET]);
    const ctx = await run({}, next);
    assert.equal(ctx.status?.code, Status.UNAVAILABLE);
    assert.equal(sent.length, 1);
  });

  test('is replayed for a method marked idempotent: all, by name, by full path, by predicate', async () => {
    const markings: RetryOptions['idempotent'][] = [true, ['Method'], ['/pkg.Svc/Method'], (ctx) => ctx.method.endsWith('/Method')];
    for (const idempotent of markings) {
      const { next, sent } = script([RESET, RESET]);
      const ctx = await run({ idempotent }, next);
      assert.equal(ctx.status?.code, Status.OK, String(idempotent));
      assert.equal(sent.length, 3);
    }
    const { next, sent } = script([RESET]);
    await run({ idempotent: ['OtherMethod'] }, next);
    assert.equal(sent.length, 1, 'another method is not replayed');
  });

  test('an idempotent method still obeys maxAttempts, codes and the budget', async () => {
    const { next, sent } = script([RESET, RESET, RESET, RESET]);
    const ctx = await run({ idempotent: true, maxAttempts: 2 }, next);
    assert.equal(ctx.status?.code, Status.UNAVAILABLE);
    assert.equal(sent.length, 2);
    const internal = script([{ code: Status.INTERNAL, headers: true }]);
    await run({ idempotent: true }, internal.next);
    assert.equal(internal.sent.length, 1, 'INTERNAL is not a retryable code');
  });

  test('rejects a bad marking, naming the option', () => {
    assert.throws(() => retry({ idempotent: 'yes' as never }), /retry: options.idempotent must be true, false, a list of method names or a function/);
    assert.throws(() => retry({ idempotent: [''] }), /options.idempotent/);
  });
});

describe('transparent retry (attempts that never reached a server)', () => {
  test('goes ahead without counting as an attempt, without backoff and without the budget', async () => {
    const events: RetryEvent[] = [];
    const budget = retryBudget({ maxTokens: 4 });
    const { next, sent } = script([NEVER_SENT, NEVER_SENT, { code: Status.UNAVAILABLE }]);
    const ctx = await run({ maxAttempts: 2, budget, onRetry: (e) => events.push(e) }, next);
    assert.equal(ctx.status?.code, Status.OK);
    assert.equal(sent.length, 4, 'two transparent retries, then the one ordinary retry maxAttempts 2 allows');
    assert.deepEqual(
      events.map((e) => [e.transparent, e.delayMs === 0]),
      [
        [true, true],
        [true, true],
        [false, false],
      ],
    );
    assert.equal(budget.tokens, 3.1, 'only the ordinary failure took a token (the success gave 0.1 back)');
  });

  test('covers refused and unstarted streams, not other failures before headers', async () => {
    for (const answer of [
      { code: Status.UNAVAILABLE, details: 'Stream refused by server' },
      { code: Status.INTERNAL, details: 'Failed to start HTTP/2 stream with error write after end' },
      { code: Status.UNAVAILABLE, details: 'Channel closed before call started' },
    ]) {
      const { next, sent } = script([answer]);
      await run({ maxAttempts: 1 }, next);
      assert.equal(sent.length, 2, answer.details);
    }
    const processed = script([{ code: Status.UNAVAILABLE, details: 'read ECONNRESET' }]);
    await run({ maxAttempts: 1 }, processed.next);
    assert.equal(processed.sent.length, 1, 'a connection reset may have reached the server');
  });

  test('happens with maxAttempts 1 too, and for codes not listed as retryable', async () => {
    const { next, sent } = script([NEVER_SENT]);
    const ctx = await run({ maxAttempts: 1, retryableCodes: [Status.RESOURCE_EXHAUSTED] }, next);
    assert.equal(ctx.status?.code, Status.OK);
    assert.equal(sent.length, 2);
  });

  test('is bounded by the number of endpoints', async () => {
    const { next, sent } = script(new Array(20).fill(NEVER_SENT));
    const ctx = await run({ maxAttempts: 1 }, next);
    assert.equal(ctx.status?.code, Status.UNAVAILABLE);
    assert.equal(sent.length, 6, 'the first attempt and one transparent retry per endpoint');
  });

  test('not for a failure after headers, nor for one that reached no endpoint', async () => {
    const afterHeaders = script([{ ...NEVER_SENT, headers: true }]);
    await run({ maxAttempts: 1 }, afterHeaders.next);
    assert.equal(afterHeaders.sent.length, 1);
    const ctx = fiveEndpoints();
    const next: Next = async (c) => {
      c.resetOutcome();
      c.fail(Status.UNAVAILABLE, 'No connection established');
    };
    await run({ maxAttempts: 1 }, next, ctx);
    assert.equal(ctx.attempt, 1, 'no endpoint was picked: nothing to retry transparently');
  });
});
