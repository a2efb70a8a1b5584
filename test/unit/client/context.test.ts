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
