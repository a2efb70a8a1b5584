// Metrics the user registered beforehand are taken over through prom-client's public API only:
// written to with their own inc() and observe(), never altered.
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import type { ClientEndpoint, ClientView, Next } from '../../../src';
import { compose } from '../../../src';
import { metrics } from '../../../src/middleware/metrics';
import { context } from '../../helpers/context';

const CALL = ['grpc_type', 'grpc_service', 'grpc_method'];

/** Every property of `metric` and of its prototype chain up to Object, as it is now. */
function snapshot(metric: object): Map<string, unknown> {
  const seen = new Map<string, unknown>();
  for (let o: object | null = metric; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const key of Object.getOwnPropertyNames(o)) {
      const name = `${o === metric ? 'own' : 'proto'}.${key}`;
      const descriptor = Object.getOwnPropertyDescriptor(o, key);
      seen.set(name, descriptor?.get ?? descriptor?.value);
    }
  }
  return seen;
}

/** The functions among a snapshot, by identity: what would differ had anything been patched. */
function functions(seen: Map<string, unknown>): Map<string, unknown> {
  return new Map([...seen].filter(([, v]) => typeof v === 'function'));
}

function send(code: grpc.status, to?: ClientEndpoint): Next {
  return async (ctx) => {
    ctx.endpoint = to;
    ctx.status = { code, details: '', metadata: new grpc.Metadata() };
  };
}

function view(service: string, endpoints: ClientEndpoint[]): ClientView {
  return { service, target: `memory:///${service}`, endpoints: () => endpoints, observe: () => () => undefined, lastResolvedAt: () => 0 };
}

describe('metrics: metrics registered beforehand', () => {
  test("are used through their public methods, which stay the user's own", async () => {
    const registry = new Registry();
    let userCollects = 0;
    const userCollect = () => {
      userCollects++;
    };
    const started = new Counter({ name: 'grpc_client_started_total', help: 'mine', labelNames: CALL, registers: [registry], collect: userCollect });
    const handling = new Histogram({ name: 'grpc_client_handling_seconds', help: 'mine', labelNames: CALL, buckets: [0.5, 5], registers: [registry] });
    const endpointCalls = new Counter({ name: 'grpc_lb_endpoint_calls_total', help: 'mine', labelNames: ['lb_service', 'address', 'code_class'], registers: [registry] });
    const before = [started, handling, endpointCalls].map(snapshot);
    const prototypes = [started, handling, endpointCalls].map((m) => Object.getPrototypeOf(m));

    const endpoint = { address: '10.0.0.1:1', state: 'ready', draining: false, ejected: false, serving: true } as unknown as ClientEndpoint;
    const client = view('users', [endpoint]);
    const m = metrics({ registry });
    m.attach!(client);
    m.attempts.attach!(client);
    const chain = compose([m, m.attempts], send(grpc.status.OK, endpoint));
    for (let i = 0; i < 3; i++) await chain(context({ method: '/pkg.Svc/Get', client, service: 'users' }));

    // A scrape of the user's metric alone shows every call: nothing waits for a hook of ours.
    assert.match(await registry.getSingleMetricAsString('grpc_client_started_total'), /grpc_client_started_total\{grpc_type="unary",grpc_service="pkg.Svc",grpc_method="Get"\} 3/);
    assert.match(await registry.getSingleMetricAsString('grpc_lb_endpoint_calls_total'), /grpc_lb_endpoint_calls_total\{lb_service="users",address="10.0.0.1:1",code_class="ok"\} 3/);
    const text = await registry.metrics();
    assert.match(text, /grpc_client_handling_seconds_count\{grpc_type="unary",grpc_service="pkg.Svc",grpc_method="Get"\} 3/);
    assert.match(text, /grpc_client_handling_seconds_bucket\{le="0.5",grpc_type="unary",grpc_service="pkg.Svc",grpc_method="Get"\} 3/);
    assert.match(text, /# HELP grpc_client_started_total mine/);
    assert.ok(userCollects >= 2, "the user's own collect still runs");

    [started, handling, endpointCalls].forEach((metric, i) => {
      const after = snapshot(metric);
      assert.deepEqual(functions(after), functions(before[i]), 'no method replaced or added');
      assert.deepEqual([...after.keys()].sort(), [...before[i].keys()].sort(), 'no property added or removed');
      assert.equal(Object.getPrototypeOf(metric), prototypes[i]);
    });
    assert.equal(registry.getSingleMetric('grpc_client_started_total'), started, 'still on the registry, the same object');
    assert.equal(registry.getSingleMetric('grpc_client_handling_seconds'), handling);
  });

  test('counts in a metric taken over add up with what it held, and keep adding across scrapes', async () => {
    const registry = new Registry();
    const handled = new Counter({ name: 'grpc_client_handled_total', help: 'mine', labelNames: [...CALL, 'grpc_code'], registers: [registry] });
    handled.inc({ grpc_type: 'unary', grpc_service: 'pkg.Svc', grpc_method: 'Get', grpc_code: 'OK' }, 5);
    const chain = compose([metrics({ registry })], send(grpc.status.OK));
    await chain(context({ method: '/pkg.Svc/Get' }));
    const line = /grpc_client_handled_total\{grpc_type="unary",grpc_service="pkg.Svc",grpc_method="Get",grpc_code="OK"\} (\d+)/;
    assert.equal(line.exec(await registry.metrics())?.[1], '6');
    await chain(context({ method: '/pkg.Svc/Get' }));
    assert.equal(line.exec(await registry.metrics())?.[1], '7');
    assert.equal(line.exec(await registry.metrics())?.[1], '7', 'a scrape adds nothing');
  });

  test('one from another copy of prom-client is refused, naming it', () => {
    const registry = new Registry();
    // What another copy's Counter looks like to this one: the same shape, another class.
    const foreign = { name: 'grpc_client_started_total', help: 'x', type: 'counter', labelNames: CALL, aggregator: 'sum', get: async () => ({ values: [] }), reset: () => undefined };
    registry.registerMetric(foreign as unknown as Counter);
    assert.throws(() => metrics({ registry }), /grpc_client_started_total, made with another copy of prom-client/);
  });
});
