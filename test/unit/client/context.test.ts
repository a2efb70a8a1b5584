import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { context } from '../../helpers/context';

describe('CallContext: the tried addresses', () => {
  test('a first attempt excludes nothing and makes no set; a second address makes one holding both', () => {
    const ctx = context();
    assert.equal(ctx.exclude, undefined, 'nothing to avoid before any attempt');
    ctx.noteTried('10.0.0.1:1');
    assert.equal((ctx as unknown as { triedSet?: Set<string> }).triedSet, undefined, 'one address needs no Set');
    assert.deepEqual([...(ctx.exclude ?? [])], ['10.0.0.1:1'], 'a retry avoids the first address');
    ctx.noteTried('10.0.0.2:1');
    assert.deepEqual([...ctx.tried].sort(), ['10.0.0.1:1', '10.0.0.2:1']);
    assert.equal(ctx.exclude, ctx.tried);
  });

  test('the same address twice stays one entry; forks share the set with their parent', () => {
    const parent = context();
    parent.noteTried('10.0.0.1:1');
    parent.noteTried('10.0.0.1:1');
    const fork = parent.fork();
    fork.noteTried('10.0.0.2:1');
    assert.deepEqual([...parent.tried].sort(), ['10.0.0.1:1', '10.0.0.2:1']);
    assert.equal(fork.tried, parent.tried);
  });
});

describe('CallContext: the outcome of the latest attempt', () => {
  test('beginAttempt numbers the next attempt and clears the last one’s outcome; the call state stays', () => {
    const ctx = context();
    ctx.noteTried('10.0.0.1:1');
    ctx.fail(14, 'first failed');
    ctx.attemptStartedAt = 5;
    ctx.beginAttempt(2);
    assert.equal(ctx.attempt, 2);
    assert.equal(ctx.status, undefined);
    assert.equal(ctx.attemptStartedAt, 0);
    assert.deepEqual([...(ctx.exclude ?? [])], ['10.0.0.1:1'], 'the tried addresses are the call’s, not the attempt’s');
  });

  test('adopt takes a fork’s outcome and attempt number', () => {
    const parent = context();
    const fork = parent.fork();
    fork.attempt = 3;
    fork.fail(0, '');
    fork.response = 'reply';
    parent.adopt(fork);
    assert.equal(parent.attempt, 3);
    assert.equal(parent.ok, true);
    assert.equal(parent.response, 'reply');
  });
});
