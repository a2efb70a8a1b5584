import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PUSHBACK_STOP, pushbackMs } from '../../../src/middleware/budget';
import { retryBudget, TokenBucketBudget, DEFAULT_MAX_TOKENS, DEFAULT_TOKEN_RATIO } from '../../../src/middleware';

describe('retryBudget (token bucket)', () => {
  test('starts full; a failure takes a token; retries stop at half or less', () => {
    const budget = retryBudget({ maxTokens: 4, tokenRatio: 0.5 });
    assert.equal(budget.tokens, 4);
    assert.equal(budget.canRetry(), true);
    budget.onFailure();
    assert.equal(budget.tokens, 3);
    assert.equal(budget.canRetry(), true);
    budget.onFailure();
    assert.equal(budget.tokens, 2);
    assert.equal(budget.canRetry(), false, 'at exactly half, no retry (gRPC: tokens must exceed max/2)');
    budget.onSuccess();
    assert.equal(budget.tokens, 2.5);
    assert.equal(budget.canRetry(), true);
  });

  test('stays within [0, maxTokens]', () => {
    const budget = retryBudget({ maxTokens: 3, tokenRatio: 1 });
    for (let i = 0; i < 10; i++) budget.onFailure();
    assert.equal(budget.tokens, 0);
    for (let i = 0; i < 10; i++) budget.onSuccess();
    assert.equal(budget.tokens, 3);
  });

  test('defaults', () => {
    const budget = new TokenBucketBudget();
    assert.equal(budget.maxTokens, DEFAULT_MAX_TOKENS);
    assert.equal(budget.tokenRatio, DEFAULT_TOKEN_RATIO);
  });

  test('with everything failing, a retrying client sends about one attempt per call', () => {
    const budget = retryBudget();
    let attempts = 0;
    const calls = 2_000;
    for (let call = 0; call < calls; call++) {
      // Up to 3 attempts per call, each failing, each retry asking the budget first.
      for (let attempt = 1; attempt <= 3; attempt++) {
        attempts++;
        budget.onFailure();
        if (!budget.canRetry()) break;
      }
    }
    assert.ok(attempts / calls <= 1.1, `attempts ÷ calls = ${attempts / calls}`);
  });

  test('rejects bad options, naming the field', () => {
    assert.throws(() => retryBudget({ maxTokens: 0 }), /retryBudget: options.maxTokens must be a finite number > 0/);
    assert.throws(() => retryBudget({ tokenRatio: -1 }), /retryBudget: options.tokenRatio/);
    assert.throws(() => retryBudget({ maxTokens: Infinity }), TypeError);
    assert.throws(() => retryBudget(null as never), /retryBudget: options must be an object/);
  });
});

describe('pushbackMs', () => {
  const withPushback = (...values: string[]) => {
    const metadata = new grpc.Metadata();
    for (const value of values) metadata.add('grpc-retry-pushback-ms', value);
    return metadata;
  };

  test('none, a wait, or stop (A6: anything but one non-negative integer means do not retry)', () => {
    assert.equal(pushbackMs(undefined), undefined);
    assert.equal(pushbackMs(new grpc.Metadata()), undefined);
    assert.equal(pushbackMs(withPushback('0')), 0);
    assert.equal(pushbackMs(withPushback('250')), 250);
    assert.equal(pushbackMs(withPushback('-1')), PUSHBACK_STOP);
    assert.equal(pushbackMs(withPushback('1.5')), PUSHBACK_STOP);
    assert.equal(pushbackMs(withPushback('soon')), PUSHBACK_STOP);
    assert.equal(pushbackMs(withPushback(' 10')), PUSHBACK_STOP);
    assert.equal(pushbackMs(withPushback('99999999999999999999')), PUSHBACK_STOP);
    assert.equal(pushbackMs(withPushback('10', '20')), PUSHBACK_STOP);
  });
});
