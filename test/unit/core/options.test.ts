import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backoffDelay } from '../../../src/core/backoff';
import {
  booleanOption,
  checkOptionsObject,
  functionOption,
  integerOption,
  numberOption,
  oneOfOption,
  positiveDurationOption,
  stringOption,
} from '../../../src/core/options';

describe('option checks', () => {
  test('absent values take the fallback; good values pass through', () => {
    assert.equal(integerOption('f', 'options.n', undefined, 7, { min: 1 }), 7);
    assert.equal(integerOption('f', 'options.n', 3, 7, { min: 1, max: 5 }), 3);
    assert.equal(numberOption('f', 'options.x', 0.5, 1, { above: 0, atMost: 1 }), 0.5);
    assert.equal(numberOption('f', 'options.x', undefined, undefined), undefined);
    assert.equal(booleanOption('f', 'options.b', false, true), false);
    assert.equal(oneOfOption('f', 'options.mode', 'b', 'a', ['a', 'b']), 'b');
    assert.equal(stringOption('f', 'options.name', 'x', undefined), 'x');
    assert.equal(positiveDurationOption('f', 'options.ms', 0, 5, true), 0);
    const fn = () => 1;
    assert.equal(functionOption('f', 'options.fn', fn, () => 2), fn);
    checkOptionsObject('f', undefined);
  });

  test('each bad value is named with its field and bounds, quoted bounded and escaped', () => {
    const cases: [() => unknown, RegExp][] = [
      [() => checkOptionsObject('f', [], false), /^f: options must be an object, got an array of 0$/],
      [() => checkOptionsObject('f', undefined, false), /^f: options must be an object, got undefined$/],
      [() => integerOption('f', 'options.n', 1.5, 1, { min: 1 }), /^f: options.n must be an integer >= 1, got 1.5$/],
      [() => integerOption('f', 'port', 0, 1, { min: 1, max: 65535 }), /^f: port must be an integer from 1 to 65535, got 0$/],
      [() => numberOption('f', 'options.x', Number.POSITIVE_INFINITY, 1, { above: 0 }), /must be a finite number > 0, got Infinity/],
      [() => numberOption('f', 'options.rate', 0, 1, { above: 0, atMost: 1 }), /options.rate must be a number in \(0, 1\], got 0/],
      [() => numberOption('f', 'options.m', 0.5, 1, { atLeast: 1 }), /options.m must be a finite number >= 1/],
      [() => booleanOption('f', 'options.b', 'yes', true), /options.b must be a boolean, got "yes"/],
      [() => oneOfOption('f', 'options.scope', 'all', 'a', ['a', 'b']), /options.scope must be 'a' or 'b', got "all"/],
      [() => oneOfOption('f', 'options.k', 'z', 'a', ['a', 'b', 'c']), /options.k must be one of 'a', 'b', 'c'/],
      [() => stringOption('f', 'options.name', '', undefined), /options.name must be a non-empty string/],
      [() => functionOption('f', 'options.now', 5 as never, () => 1), /options.now must be a function, got 5/],
      [() => positiveDurationOption('f', 'options.ms', 0, 5), /options.ms must be a finite number > 0/],
      [() => positiveDurationOption('f', 'options.ms', 2 ** 31, 5), /options.ms must be a duration in ms from 0 to 2147483647/],
      [() => stringOption('f', 'options.name', 7, undefined), /got 7/],
    ];
    for (const [run, expected] of cases) assert.throws(run, (e: unknown) => e instanceof Error && expected.test(e.message), String(expected));
    const long = 'x'.repeat(10_000) + '\n';
    assert.throws(
      () => oneOfOption('f', 'options.scope', long, 'a', ['a', 'b']),
      (e: Error) => e.message.length < 300 && !e.message.includes('\n'),
    );
  });
});

describe('backoffDelay', () => {
  const mid = () => 0.5;
  test('grows by the multiplier up to the cap, from initialMs', () => {
    const grpc = { initialMs: 1_000, maxMs: 120_000, multiplier: 1.6, jitter: 0.2 } as const;
    assert.equal(backoffDelay(1, grpc, mid), 1_000);
    assert.equal(backoffDelay(2, grpc, mid), 1_600);
    assert.equal(backoffDelay(100, grpc, mid), 120_000);
    assert.equal(backoffDelay(Number.MAX_SAFE_INTEGER, grpc, mid), 120_000);
  });
  test('jitter: equal draws from [cap/2, cap), full from [0, cap), a number from cap × (1 ± j)', () => {
    const base = { initialMs: 100, maxMs: 1_000 };
    assert.equal(backoffDelay(1, base, () => 0), 50);
    assert.equal(backoffDelay(3, base, () => 0.999_999) < 400, true);
    assert.equal(backoffDelay(3, { ...base, jitter: 'full' }, () => 0), 0);
    assert.equal(backoffDelay(3, { ...base, jitter: 'full' }, mid), 200);
    assert.equal(backoffDelay(1, { ...base, jitter: 0.2 }, () => 0), 80);
    assert.equal(backoffDelay(1, { ...base, jitter: 0.2 }, () => 1), 120);
  });
});
