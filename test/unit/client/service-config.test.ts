import { status as Status } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseServiceConfig } from '../../../src/client/service-config';
import { SEED_SERVICE_CONFIG } from '../../fixtures/seed-service-config';

describe('gRPC service config', () => {
  test('the production example maps onto a balancer, a retry policy and health checking', () => {
    for (const input of [SEED_SERVICE_CONFIG, JSON.stringify(SEED_SERVICE_CONFIG)]) {
      const config = parseServiceConfig(input);
      assert.equal(config.balancer?.name, 'weighted_round_robin');
      assert.deepEqual(config.healthCheck, { service: 'test.echo.Echo' });
      assert.equal(config.retries, true);
      assert.deepEqual(config.methods.get('test.echo.Echo/')?.retry, {
        maxAttempts: 3,
        initialBackoffMs: 100,
        maxBackoffMs: 1000,
        backoffMultiplier: 2,
        retryableCodes: [Status.UNAVAILABLE, Status.DEADLINE_EXCEEDED],
        attemptTimeoutMs: undefined,
      });
    }
  });

  test('every gRPC policy name and ours choose a balancer; the first known one wins', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ round_robin: {} }, 'weighted_round_robin'],
      [{ pick_first: { shuffleAddressList: true } }, 'pick_first'],
      [{ weighted_round_robin: { blackoutPeriod: '10s', errorUtilizationPenalty: 1 } }, 'orca_weighted(weighted_round_robin)'],
      [{ weighted_round_robin: { enableOobLoadReport: true, oobReportingPeriod: '1s', weightUpdatePeriod: '0.01s' } }, 'orca_weighted(weighted_round_robin)'],
      [{ orcaWeighted: { blackoutPeriodMs: 0 } }, 'orca_weighted(weighted_round_robin)'],
      [{ ring_hash: { minRingSize: 1024, requestHashHeader: 'x-user-id' } }, 'consistent_hash'],
      [{ least_request: { choiceCount: 3 } }, 'least_connection'],
      [{ least_request_experimental: {} }, 'least_connection'],
      [{ peakEwma: { choiceCount: 2 } }, 'peak_ewma'],
      [{ consistentHash: { header: 'x-k', virtualNodes: 100 } }, 'consistent_hash'],
      [{ weightedRandom: {} }, 'weighted_random'],
      [{ leastConnection: {} }, 'least_connection'],
    ];
    for (const [policy, name] of cases) assert.equal(parseServiceConfig({ loadBalancingConfig: [policy] }).balancer?.name, name, JSON.stringify(policy));
    const fallback = parseServiceConfig({ loadBalancingConfig: [{ xds_cluster_impl: {} }, { pick_first: {} }] });
    assert.equal(fallback.balancer?.name, 'pick_first');
    assert.equal(parseServiceConfig({ loadBalancingPolicy: 'round_robin' }).balancer?.name, 'weighted_round_robin');
  });

  test('methods are matched by service and method, by service, then by the empty name', () => {
    const config = parseServiceConfig({
      methodConfig: [
        { name: [{}], timeout: '5s' },
        { name: [{ service: 'a.S' }], timeout: '2s', waitForReady: true },
        { name: [{ service: 'a.S', method: 'M' }], timeout: '0.25s', hedgingPolicy: { maxAttempts: 9, hedgingDelay: '0.05s' } },
      ],
    });
    assert.equal(config.methods.get('')?.timeoutMs, 5000);
    assert.equal(config.methods.get('a.S/')?.waitForReady, true);
    assert.deepEqual(config.methods.get('a.S/M')?.hedge, { maxAttempts: 5, delayMs: 50, nonFatalCodes: undefined });
    assert.equal(config.methods.get('a.S/M')?.timeoutMs, 250);
  });

  test('unknown and invalid fields are named by their path', () => {
    const bad: [unknown, RegExp][] = [
      ['{', /options\.serviceConfig is not valid JSON|serviceConfig is not valid JSON/],
      [[], /serviceConfig must be an object, got an array of 0/],
      [{ loadBalancingConfg: [] }, /serviceConfig: unknown field "loadBalancingConfg" \(known: loadBalancingConfig,/],
      [{ loadBalancingConfig: [{ round_robn: {} }] }, /loadBalancingConfig names no policy this client knows \("round_robn"\); known: round_robin/],
      [{ loadBalancingConfig: [{ round_robin: {}, pick_first: {} }] }, /loadBalancingConfig\[0\] must have exactly one key/],
      [{ loadBalancingConfig: [{ ring_hash: { minRingSize: 0 } }] }, /loadBalancingConfig\[0\]\.ring_hash\.minRingSize must be an integer from 1/],
      [{ loadBalancingConfig: [{ peakEwma: { choiceCount: 0 } }] }, /loadBalancingConfig\[0\]\.peakEwma: .*choiceCount/],
      [{ methodConfig: [{ name: [{ service: 's' }], timeout: '1m' }] }, /methodConfig\[0\]\.timeout must be a duration like "0\.5s"/],
      [{ methodConfig: [{ name: [{ service: 's' }], timeout: '99999999999s' }] }, /methodConfig\[0\]\.timeout must be at most/],
      [{ methodConfig: [{ name: [{ method: 'M' }] }] }, /methodConfig\[0\]\.name\[0\]\.method needs a service beside it/],
      [{ methodConfig: [{ name: [{ service: 's' }] }, { name: [{ service: 's' }] }] }, /methodConfig\[1\]\.name\[0\] names methods that an earlier entry names too/],
      [{ methodConfig: [{ retryPolicy: { maxAttempts: 3 } }] }, /methodConfig\[0\]\.retryPolicy\.initialBackoff is required/],
      [
        { methodConfig: [{ retryPolicy: { maxAttempts: 1, initialBackoff: '1s', maxBackoff: '1s', backoffMultiplier: 2, retryableStatusCodes: ['UNAVAILABLE'] } }] },
        /retryPolicy\.maxAttempts must be an integer >= 2, got 1/,
      ],
      [
        { methodConfig: [{ retryPolicy: { maxAttempts: 2, initialBackoff: '1s', maxBackoff: '1s', backoffMultiplier: 2, retryableStatusCodes: ['UNAVAILIBLE'] } }] },
        /retryPolicy\.retryableStatusCodes\[0\] must be a failing gRPC status code.*"UNAVAILIBLE"/,
      ],
      [
        { methodConfig: [{ retryPolicy: { maxAttempts: 2, initialBackoff: '2s', maxBackoff: '1s', backoffMultiplier: 2, retryableStatusCodes: [14] } }] },
        /retryPolicy\.maxBackoff must be at least initialBackoff/,
      ],
      [{ methodConfig: [{ retryPolicy: {}, hedgingPolicy: {} }] }, /methodConfig\[0\]: give retryPolicy or hedgingPolicy, not both/],
      [{ methodConfig: [{ hedgingPolicy: { maxAttempts: 2, hedgeDelay: '1s' } }] }, /hedgingPolicy: unknown field "hedgeDelay"/],
      [{ methodConfig: [{ maxRequestMessageBytes: 10 }] }, /maxRequestMessageBytes is not applied per method here; set channelOptions\['grpc\.max_send_message_length'\]/],
      [{ retryThrottling: { maxTokens: 0, tokenRatio: 0.1 } }, /retryThrottling\.maxTokens must be a finite number > 0/],
      [{ retryThrottling: { maxTokens: 10 } }, /retryThrottling\.tokenRatio must be a finite number > 0, got undefined/],
      [{ healthCheckConfig: { serviceName: 5 } }, /healthCheckConfig\.serviceName must be a string/],
      [{ healthCheckConfig: { service: 'x' } }, /healthCheckConfig: unknown field "service" \(known: serviceName\)/],
    ];
    for (const [input, pattern] of bad) assert.throws(() => parseServiceConfig(input), pattern, JSON.stringify(input));
  });

  test('messages quote input bounded and escaped', () => {
    const key = `x\n${'y'.repeat(10_000)}`;
    assert.throws(
      () => parseServiceConfig({ [key]: 1 }),
      (e: Error) => e.message.length < 300 && !e.message.includes('\n'),
    );
  });
});
