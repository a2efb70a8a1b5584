import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { circuitBreaker, hedge, peakEwma, retry, timeout } from '../../../src';
import { grpcConfig } from '../../../src/client/grpc-config';
import { isRetryLayer } from '../../../src/core/middleware-kind';

const defaults = { pickTimeoutMs: 1000, now: Date.now, random: Math.random };
const RETRY_CONFIG = {
  methodConfig: [
    { name: [{}], retryPolicy: { maxAttempts: 2, initialBackoff: '0.1s', maxBackoff: '1s', backoffMultiplier: 2, retryableStatusCodes: ['UNAVAILABLE'] } },
  ],
};

describe('createClient options meet gRPC configuration', () => {
  test('retry() and hedge() are retry layers; other middleware is not', () => {
    assert.ok(isRetryLayer(retry()));
    assert.ok(isRetryLayer(hedge()));
    assert.ok(!isRetryLayer(timeout(10)));
    assert.ok(!isRetryLayer(circuitBreaker()));
    assert.ok(!isRetryLayer(undefined));
  });

  test("channels do not retry on their own when the chain retries, unless grpc.enable_retries is set", () => {
    assert.equal(grpcConfig({ middleware: [retry()] }, defaults).channelOptions['grpc.enable_retries'], 0);
    assert.equal(grpcConfig({ middleware: [hedge()] }, defaults).channelOptions['grpc.enable_retries'], 0);
    assert.equal(grpcConfig({ serviceConfig: RETRY_CONFIG }, defaults).channelOptions['grpc.enable_retries'], 0);
    assert.equal(grpcConfig({ middleware: [timeout(5)] }, defaults).channelOptions['grpc.enable_retries'], undefined);
    assert.equal(grpcConfig({ middleware: [retry()], channelOptions: { 'grpc.enable_retries': 1 } }, defaults).channelOptions['grpc.enable_retries'], 1);
  });

  test('a service config in channelOptions is taken out of the channels and read as serviceConfig', () => {
    const given = { 'grpc.service_config': JSON.stringify(RETRY_CONFIG), 'grpc.keepalive_time_ms': 10_000 };
    const config = grpcConfig({ channelOptions: given, middleware: [timeout(5)] }, defaults);
    assert.equal(config.channelOptions['grpc.service_config'], undefined);
    assert.equal(config.channelOptions['grpc.keepalive_time_ms'], 10_000);
    assert.equal(config.middleware.length, 2, "the user's middleware, then the service config's");
    assert.ok(isRetryLayer(config.middleware[1]));
    assert.equal(given['grpc.service_config'], JSON.stringify(RETRY_CONFIG), "the caller's object is left alone");
  });

  test('the service config chooses the balancer and health checking; saying either twice is an error', () => {
    const config = grpcConfig({ serviceConfig: { loadBalancingConfig: [{ least_request: {} }], healthCheckConfig: { serviceName: 'svc' } } }, defaults);
    assert.equal(config.balancer?.name, 'least_connection');
    assert.deepEqual(config.healthCheck, { service: 'svc' });
    assert.throws(
      () => grpcConfig({ balancer: peakEwma(), serviceConfig: { loadBalancingConfig: [{ round_robin: {} }] } }, defaults),
      /options\.balancer and options\.serviceConfig\.loadBalancingConfig both choose a balancer/,
    );
    assert.throws(
      () => grpcConfig({ healthCheck: true, serviceConfig: { healthCheckConfig: {} } }, defaults),
      /options\.healthCheck and options\.serviceConfig\.healthCheckConfig both configure health checking/,
    );
    assert.throws(() => grpcConfig({ middleware: [retry()], serviceConfig: RETRY_CONFIG }, defaults), /would be retried by both/);
    assert.throws(() => grpcConfig({ serviceConfig: 5 as never }, defaults), /options\.serviceConfig must be an object, got 5/);
  });
});
