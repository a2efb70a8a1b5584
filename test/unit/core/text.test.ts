import { test } from 'node:test';
import assert from 'node:assert/strict';
import { excerpt, redactSecrets, describeValue, MAX_EXCERPT_CHARS } from '../../../src/core/text';
import { durationOption, MAX_TIMER_MS, timerDelay } from '../../../src/core/duration';

test('excerpt bounds length and says the full length', () => {
  const long = 'x'.repeat(1_000_000);
  const out = excerpt(long);
  assert.ok(out.length < MAX_EXCERPT_CHARS + 40, `excerpt is ${out.length} chars`);
  assert.match(out, /1000000 chars/);
});

test('excerpt escapes control characters so no log line can be forged', () => {
  const out = excerpt('a\r\nlevel=error msg=forged\u0000');
  assert.ok(!/[\r\n\u0000]/.test(out));
  assert.match(out, /\\r\\n/);
});

test('secrets are removed whatever their spelling', () => {
  const S = 'S3CR3T-value';
  for (const text of [
    `consul://h:8500/svc?token=${S}#frag`,
    `consul://h:8500/sec%ZZecho?token=${S}`,
    `consul://h:8500/svc?TOKEN=${S}`,
    `consul://h:8500/svc?x-consul-token=${S}`,
    `consul://h:8500/svc?%74oken=${S}`,
    `http://h:1/?token=${S}`,
    `http://user:${S}@h:1/`,
    `etcd://root:${S}@h:2379/svc`,
  ]) {
    assert.ok(!redactSecrets(text).includes(S), `leaked from ${text}: ${redactSecrets(text)}`);
    assert.ok(!excerpt(text).includes(S), `excerpt leaked from ${text}`);
  }
  assert.equal(redactSecrets(`x ${S} y`, [S]), 'x [redacted] y');
  assert.equal(redactSecrets('consul://h:8500/svc?tag=v1&dc=dc1'), 'consul://h:8500/svc?tag=v1&dc=dc1');
});

test('describeValue handles every type without throwing', () => {
  assert.equal(describeValue(5n), '5n (a bigint)');
  assert.equal(describeValue(Symbol('x')), 'a symbol');
  assert.equal(describeValue(null), 'null');
  assert.equal(describeValue([1, 2]), 'an array of 2');
});

test('durationOption bounds durations to what a Node timer honours', () => {
  assert.equal(durationOption('f', 'ms', undefined, 7), 7);
  assert.equal(durationOption('f', 'ms', 100, 7), 100);
  assert.throws(() => durationOption('f', 'connectTimeoutMs', 2 ** 31, 7), /f: connectTimeoutMs must be a duration in ms from 0 to 2147483647/);
  assert.throws(() => durationOption('f', 'ms', -1, 7), RangeError);
  assert.throws(() => durationOption('f', 'ms', NaN, 7), RangeError);
  assert.throws(() => durationOption('f', 'ms', '5', 7), /got "5"/);
  assert.throws(() => durationOption('f', 'ms', 5, 7, { min: 10 }), /from 10/);
  assert.equal(durationOption('f', 'ms', 0, 7, { min: 10, allowZero: true }), 0);
  assert.equal(timerDelay(2 ** 40), MAX_TIMER_MS);
  assert.equal(timerDelay(-5), 0);
});
