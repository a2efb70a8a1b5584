import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_HEALTH_CHECK_INTERVAL_MS, DEFAULT_HEALTH_CHECK_TIMEOUT_MS, resolveHealthCheckOptions, type HealthCheckOptions } from '../../../src/client/health-check';

describe('resolveHealthCheckOptions', () => {
  test('true takes the defaults, false turns checking off, given fields are kept', () => {
    assert.deepEqual(resolveHealthCheckOptions(true), { service: '', intervalMs: DEFAULT_HEALTH_CHECK_INTERVAL_MS, timeoutMs: DEFAULT_HEALTH_CHECK_TIMEOUT_MS });
    assert.equal(resolveHealthCheckOptions(false), undefined);
    assert.deepEqual(resolveHealthCheckOptions({ service: 'echo', intervalMs: 250 }), { service: 'echo', intervalMs: 250, timeoutMs: DEFAULT_HEALTH_CHECK_TIMEOUT_MS });
  });

  test('a bad field is named, its value quoted', () => {
    const bad = (value: unknown) => value as HealthCheckOptions;
    assert.throws(() => resolveHealthCheckOptions(bad('yes')), /^TypeError: createClient: options.healthCheck must be true, false or an object of options, got "yes"$/);
    assert.throws(() => resolveHealthCheckOptions(bad({ service: null })), /^TypeError: createClient: options.healthCheck.service must be a string \('' for the whole server\), got null$/);
    assert.throws(() => resolveHealthCheckOptions({ intervalMs: 0 }), /^TypeError: createClient: options.healthCheck.intervalMs must be a finite number > 0, got 0$/);
    assert.throws(() => resolveHealthCheckOptions({ timeoutMs: Number.NaN }), /^TypeError: createClient: options.healthCheck.timeoutMs must be a finite number > 0, got NaN$/);
    assert.throws(() => resolveHealthCheckOptions({ timeoutMs: 2 ** 31 }), /^RangeError: createClient: options.healthCheck.timeoutMs must be a duration in ms from 0 to 2147483647, got 2147483648$/);
  });
});
