import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Counter, Histogram, Registry, register as globalRegistry } from 'prom-client';
import type { CallContext, ClientEndpoint, ClientView, EndpointSetObserver, Next } from '../../../src';
import { compose } from '../../../src';
import { grpcCodeLabel, metrics, redactTarget } from '../../../src/middleware/metrics';
import { context } from '../../helpers/context';

type FakeEndpoint = {
  address: string;
  state: string;
  draining: boolean;
  ejected: boolean;
  serving: boolean;
};

function endpoint(address: string, fields: Partial<FakeEndpoint> = {}): ClientEndpoint {
  return { address, state: 'ready', draining: false, ejected: false, serving: true, ...fields } as unknown as ClientEndpoint;
}

/** A client view whose endpoints and observers the test controls. */
function view(service: string, endpoints: ClientEndpoint[] = [], target = `memory:///${service}`) {
  const observers = new Set<EndpointSetObserver>();
  let resolvedAt = 0;
  const v: ClientView = {
    service,
    target,
    endpoints: () => endpoints,
    observe(observer) {
      observers.add(observer);
      return () => observers.delete(observer);
    },
    lastResolvedAt: () => resolvedAt,
  };
  return {
    view: v,
    endpoints,
    observers,
    resolved(at: number) {
      resolvedAt = at;
      for (const o of observers) o.onResolved?.([]);
    },
    remove(e: ClientEndpoint) {
      endpoints.splice(endpoints.indexOf(e), 1);
      (e as unknown as FakeEndpoint).state = 'shutdown';
      for (const o of observers) o.onEndpointRemoved?.(e);
    },
  };
}

/** A transport stand-in: the attempt goes to `to` (or nowhere) and ends with `code`. */
function send(code: grpc.status, to?: ClientEndpoint): Next {
  return async (ctx) => {
    ctx.endpoint = to;
    ctx.status = { code, details: '', metadata: new grpc.Metadata() };
  };
}

async function values(registry: Registry, name: string): Promise<{ labels: Record<string, string | number>; value: number; metricName?: string }[]> {
  const metric = registry.getSingleMetric(name);
  assert.ok(metric, `${name} is registered`);
  return (await metric.get()).values as { labels: Record<string, string | number>; value: number; metricName?: string }[];
}

async function valueOf(registry: Registry, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const hits = (await values(registry, name)).filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want));
  return hits.length === 0 ? undefined : hits.reduce((sum, v) => sum + v.value, 0);
}

function call(overrides: Partial<ConstructorParameters<typeof CallContext>[0]> = {}): CallContext {
  return context({ method: '/pkg.Svc/Get', ...overrides });
}

describe('metrics', () => {
  test('grpc_code is the Go name of the code', async () => {
    assert.equal(grpcCodeLabel(grpc.status.OK), 'OK');
    assert.equal(grpcCodeLabel(grpc.status.CANCELLED), 'Canceled');
    assert.equal(grpcCodeLabel(grpc.status.DEADLINE_EXCEEDED), 'DeadlineExceeded');
    assert.equal(grpcCodeLabel(grpc.status.UNAUTHENTICATED), 'Unauthenticated');
    assert.equal(grpcCodeLabel(42), 'Code(42)');

    const registry = new Registry();
    const chain = compose([metrics({ registry })], send(grpc.status.DEADLINE_EXCEEDED));
    await chain(call());
    assert.equal(await valueOf(registry, 'grpc_client_handled_total', { grpc_code: 'DeadlineExceeded', grpc_service: 'pkg.Svc', grpc_method: 'Get' }), 1);
  });

  test('splits the method path as go-grpc-prometheus does', async () => {
    const registry = new Registry();
    const chain = compose([metrics({ registry })], send(grpc.status.OK));
    await chain(call({ method: '/a.b.C/Do', type: 'server_stream' }));
    await chain(call({ method: 'garbled' }));
    assert.equal(await valueOf(registry, 'grpc_client_started_total', { grpc_type: 'server_stream', grpc_service: 'a.b.C', grpc_method: 'Do' }), 1);
    assert.equal(await valueOf(registry, 'grpc_client_started_total', { grpc_service: 'unknown', grpc_method: 'unknown' }), 1);
  });

  test('a middleware that throws still ends its call, as INTERNAL', async () => {
    const registry = new Registry();
    const chain = compose([metrics({ registry })], async () => {
      throw new Error('boom');
    });
    await assert.rejects(chain(call()), /boom/);
    assert.equal(await valueOf(registry, 'grpc_client_started_total', {}), 1);
    assert.equal(await valueOf(registry, 'grpc_client_handled_total', { grpc_code: 'Internal' }), 1);
    const count = (await values(registry, 'grpc_client_handling_seconds')).find((v) => v.metricName === 'grpc_client_handling_seconds_count');
    assert.equal(count?.value, 1);
  });

  test('counts land in the registry only at scrape, and exactly once', async () => {
    const registry = new Registry();
    const chain = compose([metrics({ registry })], send(grpc.status.OK));
    for (let i = 0; i < 1000; i++) await chain(call());
    assert.equal(await valueOf(registry, 'grpc_client_started_total', {}), 1000);
    assert.equal(await valueOf(registry, 'grpc_client_started_total', {}), 1000, 'a second scrape adds nothing');
    await chain(call());
    assert.equal(await valueOf(registry, 'grpc_client_handled_total', { grpc_code: 'OK' }), 1001);
  });

  test('registers nothing on the global registry', () => {
    const before = globalRegistry.getMetricsAsArray().length;
    metrics({ registry: new Registry() });
    assert.equal(globalRegistry.getMetricsAsArray().length, before);
    assert.equal(globalRegistry.getSingleMetric('grpc_client_started_total'), undefined);
  });

  test('rejects bad options and incompatible metrics, naming them', () => {
    assert.throws(() => metrics(undefined as never), /options must be an object/);
    assert.throws(() => metrics({} as never), /options\.registry must be a prom-client Registry/);
    assert.throws(() => metrics({ registry: new Registry(), buckets: [] }), /options\.buckets/);
    assert.throws(() => metrics({ registry: new Registry(), buckets: [1, 0.5] }), /options\.buckets/);

    const registry = new Registry();
    metrics({ registry, buckets: [0.1, 1] });
    assert.throws(() => metrics({ registry, buckets: [0.2, 2] }), /grpc_client_handling_seconds .*buckets/);
    assert.doesNotThrow(() => metrics({ registry }), 'no buckets asked for: the registered ones are taken');

    const taken = new Registry();
    new Counter({ name: 'grpc_client_handled_total', help: 'x', labelNames: ['code'], registers: [taken] });
    assert.throws(() => metrics({ registry: taken }), /grpc_client_handled_total.*labels \[code\]/);
  });

  test("takes over a compatible metric already registered, keeping its help and buckets", async () => {
    const registry = new Registry();
    new Counter({ name: 'grpc_client_started_total', help: 'custom help', labelNames: ['grpc_type', 'grpc_service', 'grpc_method'], registers: [registry] });
    new Histogram({ name: 'grpc_client_handling_seconds', help: 'custom', labelNames: ['grpc_type', 'grpc_service', 'grpc_method'], buckets: [0.5, 5], registers: [registry] });
    const chain = compose([metrics({ registry })], send(grpc.status.OK));
    await chain(call());
    await chain(call());
    const text = await registry.metrics();
    assert.match(text, /# HELP grpc_client_started_total custom help/);
    assert.match(text, /grpc_client_started_total\{grpc_type="unary",grpc_service="pkg.Svc",grpc_method="Get"\} 2/);
    assert.match(text, /grpc_client_handling_seconds_bucket\{le="0.5",/);
    assert.doesNotMatch(text, /le="0.005"/);
  });

  test('a registry cleared and used again gets fresh series', async () => {
    const registry = new Registry();
    metrics({ registry });
    registry.clear();
    const chain = compose([metrics({ registry })], send(grpc.status.OK));
    await chain(call());
    assert.equal(await valueOf(registry, 'grpc_client_started_total', {}), 1);
  });

  test('per-endpoint series are removed when the endpoint leaves, and not brought back by late calls', async () => {
    const registry = new Registry();
    const a = endpoint('10.0.0.1:50051');
    const b = endpoint('10.0.0.2:50051');
    const v = view('users', [a, b]);
    const m = metrics({ registry });
    const detach = m.attach!(v.view);
    const ok = compose([m], send(grpc.status.OK, b));
    const unavailable = compose([m], send(grpc.status.UNAVAILABLE, b));
    const invalid = compose([m], send(grpc.status.INVALID_ARGUMENT, b));
    await ok(call({ client: v.view, service: 'users' }));
    await unavailable(call({ client: v.view, service: 'users' }));
    await invalid(call({ client: v.view, service: 'users' }));
    const labels = { lb_service: 'users', address: b.address };
    assert.equal(await valueOf(registry, 'grpc_lb_endpoint_calls_total', { ...labels, code_class: 'ok' }), 1);
    assert.equal(await valueOf(registry, 'grpc_lb_endpoint_calls_total', { ...labels, code_class: 'endpoint_error' }), 1);
    assert.equal(await valueOf(registry, 'grpc_lb_endpoint_calls_total', { ...labels, code_class: 'other_error' }), 1);

    v.remove(b);
    assert.equal(await valueOf(registry, 'grpc_lb_endpoint_calls_total', labels), undefined);
    await ok(call({ client: v.view, service: 'users' }));
    assert.equal(await valueOf(registry, 'grpc_lb_endpoint_calls_total', labels), undefined, 'a call that outlived its endpoint adds no series');

    (detach as () => void)();
    assert.equal(v.observers.size, 0, 'detach stops observing');
  });

  test('per-endpoint series of a client that never attached are not kept (nothing could remove them)', async () => {
    const registry = new Registry();
    const v = view('users', [endpoint('10.0.0.1:50051')]);
    await compose([metrics({ registry })], send(grpc.status.OK, v.endpoints[0]))(call({ client: v.view, service: 'users' }));
    assert.equal(await valueOf(registry, 'grpc_lb_endpoint_calls_total', {}), undefined);
    assert.equal(await valueOf(registry, 'grpc_client_started_total', {}), 1, 'call-level series still count');
  });

  test('endpoints by state, one state each, by precedence', async () => {
    const registry = new Registry();
    const v = view('users', [
      endpoint('a:1'),
      endpoint('b:1', { state: 'connecting' }),
      endpoint('c:1', { state: 'transient_failure', ejected: true }),
      endpoint('d:1', { ejected: true, serving: false }),
      endpoint('e:1', { serving: false }),
      endpoint('f:1', { draining: true, serving: false }),
      endpoint('g:1', { state: 'idle' }),
    ]);
    metrics({ registry }).attach!(v.view);
    const count = (state: string) => valueOf(registry, 'grpc_lb_endpoints', { lb_service: 'users', state });
    assert.equal(await count('ready'), 1);
    assert.equal(await count('connecting'), 1);
    assert.equal(await count('transient_failure'), 1);
    assert.equal(await count('ejected'), 1);
    assert.equal(await count('not_serving'), 1);
    assert.equal(await count('draining'), 1);
    assert.equal(await count('idle'), 1);
  });

  test('the call level and the attempt level share one attachment per client', async () => {
    const registry = new Registry();
    const v = view('users', [endpoint('a:1')]);
    const m = metrics({ registry, now: () => 10_000 });
    const detachCall = m.attach!(v.view);
    const detachAttempts = m.attempts.attach!(v.view);
    assert.equal(v.observers.size, 1);
    v.resolved(7_500);
    assert.equal(await valueOf(registry, 'grpc_lb_resolver_updates_total', { lb_service: 'users' }), 1, 'one update counted once');
    assert.equal(await valueOf(registry, 'grpc_lb_resolution_age_seconds', { lb_service: 'users' }), 2.5);
    (detachCall as () => void)();
    assert.equal(await valueOf(registry, 'grpc_lb_endpoints', { lb_service: 'users', state: 'ready' }), 1, 'still attached through the attempt level');
    (detachAttempts as () => void)();
    (detachAttempts as () => void)();
    assert.equal(v.observers.size, 0);
    assert.equal(await valueOf(registry, 'grpc_lb_endpoints', { lb_service: 'users' }), undefined);
  });

  test('with the attempt level attached, the call level leaves per-endpoint counting to it', async () => {
    const registry = new Registry();
    const a = endpoint('a:1');
    const b = endpoint('b:1');
    const v = view('users', [a, b]);
    const m = metrics({ registry });
    m.attach!(v.view);
    m.attempts.attach!(v.view);
    // Two attempts: the first fails on a, the second succeeds on b.
    let attempt = 0;
    const retryOnce = (next: Next): Next => async (ctx) => {
      await next(ctx);
      ctx.attempt++;
      await next(ctx);
    };
    const chain = compose([m, retryOnce, m.attempts], async (ctx) => {
      attempt++;
      await send(attempt === 1 ? grpc.status.UNAVAILABLE : grpc.status.OK, attempt === 1 ? a : b)(ctx);
    });
    await chain(call({ client: v.view, service: 'users' }));
    assert.equal(await valueOf(registry, 'grpc_lb_endpoint_calls_total', { address: 'a:1', code_class: 'endpoint_error' }), 1);
    assert.equal(await valueOf(registry, 'grpc_lb_endpoint_calls_total', { address: 'b:1', code_class: 'ok' }), 1);
    assert.equal(await valueOf(registry, 'grpc_lb_endpoint_calls_total', {}), 2, 'not counted again by the call level');
    assert.equal(await valueOf(registry, 'grpc_lb_attempts_total', { attempt: 'first' }), 1);
    assert.equal(await valueOf(registry, 'grpc_lb_attempts_total', { attempt: 'retry_or_hedge' }), 1);
    assert.equal(await valueOf(registry, 'grpc_client_handled_total', { grpc_code: 'OK' }), 1);
  });

  test('targets lose userinfo, query and fragment before they become labels', async () => {
    assert.equal(redactTarget('consul://user:pa55@127.0.0.1:8500/users?token=s3cret&dc=dc1'), 'consul://127.0.0.1:8500/users');
    assert.equal(redactTarget('dns:///users.example.com:50051#frag'), 'dns:///users.example.com:50051');
    assert.equal(redactTarget('static:///10.0.0.1:1,10.0.0.2:1'), 'static:///10.0.0.1:1,10.0.0.2:1');
    assert.equal(redactTarget('users (custom resolver)'), 'users (custom resolver)');

    const registry = new Registry();
    metrics({ registry }).attach!(view('users', [], 'consul://user:pa55@127.0.0.1:8500/users?token=s3cret').view);
    const text = await registry.metrics();
    assert.match(text, /grpc_lb_clients\{lb_service="users",target="consul:\/\/127.0.0.1:8500\/users"\} 1/);
    assert.doesNotMatch(text, /pa55|s3cret/);
  });
});

describe('metrics: handling-time histogram', () => {
  test('bucket upper bounds are inclusive; beyond the last, only +Inf; resetMetrics zeroes', async () => {
    // prom-client writes `le` first among a bucket's labels.
    const registry = new Registry();
    let clock = 0;
    const durations = [0.05, 0.1, 0.1001, 2, 30]; // seconds
    let i = 0;
    const chain = compose([metrics({ registry, buckets: [0.1, 1, 10], timer: () => clock })], async (ctx) => {
      clock += durations[i++] * 1000;
      ctx.fail(grpc.status.OK, '');
    });
    for (const _ of durations) await chain(call());
    const text = await registry.getSingleMetricAsString('grpc_client_handling_seconds');
    const series = 'grpc_type="unary",grpc_service="pkg.Svc",grpc_method="Get"';
    assert.match(text, new RegExp(`grpc_client_handling_seconds_bucket\\{le="0.1",${series}\\} 2\\n`));
    assert.match(text, new RegExp(`grpc_client_handling_seconds_bucket\\{le="1",${series}\\} 3\\n`));
    assert.match(text, new RegExp(`grpc_client_handling_seconds_bucket\\{le="10",${series}\\} 4\\n`));
    assert.match(text, new RegExp(`grpc_client_handling_seconds_bucket\\{le="\\+Inf",${series}\\} 5\\n`));
    assert.match(text, new RegExp(`grpc_client_handling_seconds_sum\\{${series}\\} 32.2501\\n`));
    assert.match(text, new RegExp(`grpc_client_handling_seconds_count\\{${series}\\} 5`));

    registry.resetMetrics();
    assert.match(await registry.getSingleMetricAsString('grpc_client_handling_seconds'), new RegExp(`grpc_client_handling_seconds_count\\{${series}\\} 0`));
  });
});

describe('metrics: circuit breakers', () => {
  function fakeBreaker() {
    const listeners = new Set<(change: { scope: string; service: string; from: string; to: string }) => void>();
    const states: { scope: string; service: string; state: string }[] = [];
    return {
      states,
      emit(from: string, to: string) {
        for (const listener of listeners) listener({ scope: 'endpoint', service: 'users', from, to });
      },
      breaker: {
        onStateChange(listener: (change: { scope: string; service: string; from: string; to: string }) => void) {
          listeners.add(listener);
          return () => listeners.delete(listener);
        },
        states: () => states,
      },
    };
  }

  test('transitions are counted once per registry, however many metrics() list the breaker', async () => {
    const registry = new Registry();
    const fake = fakeBreaker();
    metrics({ registry, breakers: [fake.breaker] });
    metrics({ registry, breakers: [fake.breaker] });
    fake.emit('closed', 'open');
    fake.emit('open', 'half_open');
    fake.emit('half_open', 'open');
    assert.equal(await valueOf(registry, 'grpc_lb_breaker_transitions_total', { lb_service: 'users', scope: 'endpoint', to: 'open' }), 2);
    assert.equal(await valueOf(registry, 'grpc_lb_breaker_transitions_total', { from: 'open', to: 'half_open' }), 1);
  });

  test('breakers by state, zeros included', async () => {
    const registry = new Registry();
    const fake = fakeBreaker();
    fake.states.push({ scope: 'endpoint', service: 'users', state: 'open' }, { scope: 'endpoint', service: 'users', state: 'closed' }, { scope: 'endpoint', service: 'users', state: 'closed' });
    metrics({ registry, breakers: [fake.breaker] });
    assert.equal(await valueOf(registry, 'grpc_lb_breakers', { state: 'closed' }), 2);
    assert.equal(await valueOf(registry, 'grpc_lb_breakers', { state: 'open' }), 1);
    assert.equal(await valueOf(registry, 'grpc_lb_breakers', { state: 'half_open' }), 0);
    fake.states.length = 0;
    assert.equal(await valueOf(registry, 'grpc_lb_breakers', {}), undefined, 'breakers gone, series gone');
  });

  test('rejects what is not a breaker', () => {
    assert.throws(() => metrics({ registry: new Registry(), breakers: [{} as never] }), /options\.breakers/);
  });
});
