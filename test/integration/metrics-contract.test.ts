// The series metrics() puts in a scrape, read from prom-client's text output after real calls:
// names, types, label sets and the histogram's bucket layout, as the README documents them. The
// table is written out here rather than taken from the code, so a change to any of it shows.
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { memoryResolver, METRIC_NAMES } from '../../src';
import { circuitBreaker } from '../../src/middleware/circuit-breaker';
import { metrics } from '../../src/middleware/metrics';
import { retry } from '../../src/middleware/retry';
import { eventually, outcome, testBed, type Echo } from '../helpers/calls';

const { start, client } = testBed();

const CALL = ['grpc_type', 'grpc_service', 'grpc_method'];

/** The documented series: type and label names (a histogram's `_bucket` adds `le`). */
const CONTRACT: Record<string, { type: string; labels: string[] }> = {
  grpc_client_started_total: { type: 'counter', labels: CALL },
  grpc_client_handled_total: { type: 'counter', labels: [...CALL, 'grpc_code'] },
  grpc_client_handling_seconds: { type: 'histogram', labels: CALL },
  grpc_client_msg_received_total: { type: 'counter', labels: CALL },
  grpc_client_msg_sent_total: { type: 'counter', labels: CALL },
  grpc_lb_attempts_total: { type: 'counter', labels: [...CALL, 'attempt'] },
  grpc_lb_endpoint_calls_total: { type: 'counter', labels: ['lb_service', 'address', 'code_class'] },
  grpc_lb_pick_failures_total: { type: 'counter', labels: ['lb_service', 'grpc_code'] },
  grpc_lb_endpoints: { type: 'gauge', labels: ['lb_service', 'state'] },
  grpc_lb_resolver_updates_total: { type: 'counter', labels: ['lb_service'] },
  grpc_lb_resolver_errors_total: { type: 'counter', labels: ['lb_service'] },
  grpc_lb_resolution_age_seconds: { type: 'gauge', labels: ['lb_service'] },
  grpc_lb_clients: { type: 'gauge', labels: ['lb_service', 'target'] },
  grpc_lb_breaker_transitions_total: { type: 'counter', labels: ['lb_service', 'scope', 'from', 'to'] },
  grpc_lb_breakers: { type: 'gauge', labels: ['lb_service', 'scope', 'state'] },
};

/** Values a label may take, where the README names them. */
const DOMAINS: Record<string, string[]> = {
  attempt: ['first', 'retry_or_hedge'],
  code_class: ['ok', 'endpoint_error', 'other_error'],
  state: ['draining', 'idle', 'connecting', 'transient_failure', 'ejected', 'not_serving', 'ready', 'closed', 'open', 'half_open'],
  grpc_code: ['OK', 'Canceled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound', 'AlreadyExists', 'PermissionDenied', 'ResourceExhausted', 'FailedPrecondition', 'Aborted', 'OutOfRange', 'Unimplemented', 'Internal', 'Unavailable', 'DataLoss', 'Unauthenticated'],
  grpc_type: ['unary', 'client_stream', 'server_stream', 'bidi_stream'],
};

const DEFAULT_BUCKETS = ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf'];

interface Family {
  type?: string;
  help?: string;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

/** Prometheus's text format, by family: the # TYPE and # HELP lines and the samples under them. */
function families(text: string): Map<string, Family> {
  const out = new Map<string, Family>();
  let current: Family | undefined;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta;
      if (!out.has(name)) out.set(name, { samples: [] });
      current = out.get(name)!;
      if (kind === 'TYPE') current.type = rest;
      else current.help = rest;
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(sample && current, `malformed exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[key] = value;
    current.samples.push({ name: sample[1], labels, value: sample[3] === '+Inf' ? Infinity : Number(sample[3]) });
  }
  return out;
}

const sorted = (names: Iterable<string>): string[] => [...names].sort();

function clientStream(c: Echo, messages: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const call = c.clientStream((err: grpc.ServiceError | null, reply: unknown) => (err ? reject(err) : resolve(reply)));
    for (let i = 0; i < messages; i++) call.write({ message: `m${i}` });
    call.end();
  });
}

describe('metrics: the exposition contract', () => {
  test('METRIC_NAMES lists the documented series', () => {
    assert.deepEqual(sorted(Object.values(METRIC_NAMES)), sorted(Object.keys(CONTRACT)));
  });

  test('after real calls, every documented series is in the scrape with its type, labels and buckets', async () => {
    const [good, bad] = await start(2);
    bad.behaviour = { failCode: grpc.status.UNAVAILABLE };
    const resolver = memoryResolver();
    resolver.set('echo', [good.address, bad.address]);
    const registry = new Registry();
    const breaker = circuitBreaker({ consecutiveFailures: 2, openMs: 60_000 });
    const m = metrics({ registry });
    const c = client({ resolver, service: 'echo', middleware: [m, retry({ maxAttempts: 3, budget: false, initialBackoffMs: 1 }), breaker, m.attempts] });
    await eventually(() => c.endpoints().filter((e) => e.available).length === 2);
    for (let i = 0; i < 10; i++) await outcome(c);
    await outcome(c, { message: 'x', failCode: grpc.status.INVALID_ARGUMENT });
    await clientStream(c, 2);
    await eventually(() => c.endpoints().some((e) => e.ejected), 3000, 'the failing endpoint ejected');
    resolver.fail('echo', new Error('registry unreachable'));
    // A client that finds no endpoint: a failed pick.
    const empty = client({ resolver, service: 'nothing', middleware: [m, m.attempts] });
    resolver.set('nothing', []);
    assert.equal(((await outcome(empty)) as grpc.ServiceError).code, grpc.status.UNAVAILABLE);

    const text = await registry.metrics();
    const found = families(text);
    assert.deepEqual(sorted(found.keys()), sorted(Object.keys(CONTRACT)), 'exactly the documented families');

    for (const [name, { type, labels }] of Object.entries(CONTRACT)) {
      const family = found.get(name)!;
      assert.equal(family.type, type, `${name} is a ${type}`);
      assert.ok(family.help && family.help.length > 10, `${name} has help text`);
      assert.ok(family.samples.length > 0, `${name} has samples after these calls`);
      for (const sample of family.samples) {
        const want = sample.name === `${name}_bucket` ? [...labels, 'le'] : labels;
        const allowedNames = type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];
        assert.ok(allowedNames.includes(sample.name), `${sample.name} belongs to ${name}`);
        assert.deepEqual(sorted(Object.keys(sample.labels)), sorted(want), `labels of ${sample.name}`);
        for (const [label, value] of Object.entries(sample.labels)) {
          if (DOMAINS[label]) assert.ok(DOMAINS[label].includes(value), `${sample.name}: ${label}="${value}" is a documented value`);
        }
      }
    }

    // The histogram: Prometheus's default buckets, cumulative, +Inf equal to _count, per method.
    const histogram = found.get(METRIC_NAMES.handlingSeconds)!;
    const methods = new Set(histogram.samples.map((s) => `${s.labels.grpc_type}/${s.labels.grpc_method}`));
    assert.deepEqual(sorted(methods), ['client_stream/ClientStream', 'unary/Unary']);
    for (const method of methods) {
      const own = histogram.samples.filter((s) => `${s.labels.grpc_type}/${s.labels.grpc_method}` === method);
      const buckets = own.filter((s) => s.name.endsWith('_bucket'));
      assert.deepEqual(
        buckets.map((b) => b.labels.le),
        DEFAULT_BUCKETS,
        `${method}: the default buckets, in order`,
      );
      for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i].value >= buckets[i - 1].value, `${method}: cumulative`);
      const count = own.find((s) => s.name.endsWith('_count'))!.value;
      assert.equal(buckets[buckets.length - 1].value, count, `${method}: +Inf holds every call`);
      assert.ok(own.find((s) => s.name.endsWith('_sum'))!.value > 0, `${method}: time was spent`);
    }
    assert.equal(histogram.samples.find((s) => s.name.endsWith('_count') && s.labels.grpc_method === 'Unary')?.value, 12, 'every unary call, the failed pick too');

    // Values that show the calls above were counted where documented.
    const value = (name: string, labels: Record<string, string>): number =>
      found
        .get(name)!
        .samples.filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
        .reduce((sum, s) => sum + s.value, 0);
    assert.equal(value(METRIC_NAMES.handled, { grpc_method: 'Unary', grpc_code: 'OK' }), 10);
    assert.equal(value(METRIC_NAMES.handled, { grpc_method: 'Unary', grpc_code: 'InvalidArgument' }), 1);
    assert.equal(value(METRIC_NAMES.handled, { grpc_method: 'Unary', grpc_code: 'Unavailable' }), 1);
    assert.equal(value(METRIC_NAMES.msgSent, { grpc_type: 'client_stream' }), 2);
    assert.ok(value(METRIC_NAMES.attempts, { attempt: 'retry_or_hedge' }) > 0, 'retries counted');
    assert.equal(value(METRIC_NAMES.endpointCalls, { address: good.address, code_class: 'other_error' }), 1);
    assert.equal(value(METRIC_NAMES.pickFailures, { lb_service: 'nothing', grpc_code: 'Unavailable' }), 1);
    assert.equal(value(METRIC_NAMES.endpoints, { lb_service: 'echo', state: 'ejected' }), 1);
    assert.equal(found.get(METRIC_NAMES.endpoints)!.samples.filter((s) => s.labels.lb_service === 'echo').length, 7, 'every state, zeros included');
    assert.equal(value(METRIC_NAMES.resolverErrors, { lb_service: 'echo' }), 1);
    assert.equal(value(METRIC_NAMES.breakerTransitions, { lb_service: 'echo', scope: 'endpoint', from: 'closed', to: 'open' }), 1);
    assert.equal(found.get(METRIC_NAMES.breakers)!.samples.filter((s) => s.labels.lb_service === 'echo').length, 3, 'every breaker state, zeros included');
    assert.equal(value(METRIC_NAMES.clients, { lb_service: 'echo' }), 1);
  });

  test('custom buckets are the layout of the scrape', async () => {
    const [a] = await start(1);
    const registry = new Registry();
    const c = client({ target: `static:///${a.address}`, middleware: [metrics({ registry, buckets: [0.001, 0.5, 30] })] });
    await outcome(c);
    const histogram = families(await registry.metrics()).get(METRIC_NAMES.handlingSeconds)!;
    assert.deepEqual(
      histogram.samples.filter((s) => s.name.endsWith('_bucket')).map((s) => s.labels.le),
      ['0.001', '0.5', '30', '+Inf'],
    );
  });
});
