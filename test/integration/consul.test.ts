import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import Consul from 'consul';
import { HealthImplementation } from 'grpc-health-check';
import { consulResolver } from '../../src/resolver/consul';
import { parseTarget, resolveTarget } from '../../src/resolver/target';
import { consulRegistry, type ConsulRegistration, type ConsulRegistry } from '../../src/registry';
import type { Instance } from '../../src/resolver/types';
import { sleep } from '../helpers/calls';
import { ConsulApi, recordWatch, startConsul, type ConsulAgent, type WatchRecord } from '../helpers/consul-agent';
import { startEchoServer, type EchoServer } from '../helpers/echo-server';

/** The bound the resolver promises between Consul knowing of a change and the listener hearing it. */
const UPDATE_BOUND_MS = 200;
const ids = (list: Instance[]) => list.map((i) => i.id).sort();

interface Serving {
  echo: EchoServer;
  health: HealthImplementation;
  registration: ConsulRegistration;
}

/** Polls `probe` every few milliseconds until it returns true; resolves with the time it did. */
async function pollUntil(probe: () => Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return Date.now();
    await sleep(5);
  }
  throw new Error(`${what} did not happen within ${timeoutMs} ms`);
}

describe('Consul resolver and registry against a real agent', () => {
  let agent: ConsulAgent;
  let registry: ConsulRegistry;
  let observer: Consul;
  let api: ConsulApi;
  const registryErrors: Error[] = [];
  const serving: Serving[] = [];
  const watches: WatchRecord[] = [];
  let main: WatchRecord;

  before(async () => {
    agent = await startConsul();
    // An independent client (the `consul` npm package) to check what really reached Consul.
    observer = new Consul({ host: '127.0.0.1', port: agent.httpPort });
    api = new ConsulApi({ address: agent.httpAddress });
    registry = consulRegistry({ address: agent.httpAddress, onError: (error) => registryErrors.push(error) });
    for (let i = 0; i < 3; i++) {
      const echo = await startEchoServer({ name: `s${i}` });
      const health = new HealthImplementation({ '': 'SERVING' });
      health.addToServer(echo.server);
      const registration: ConsulRegistration = {
        name: 'echo',
        address: '127.0.0.1',
        port: echo.port,
        weight: i + 1,
        tags: ['v1'],
        meta: { index: String(i) },
        // Consul's shortest interval: a failing instance is noticed within about a second.
        check: { type: 'grpc', interval: '1s', timeout: '1s' },
      };
      await registry.register(registration);
      serving.push({ echo, health, registration });
    }
    main = recordWatch(consulResolver({ address: agent.httpAddress }), 'echo');
    watches.push(main);
  });

  after(async () => {
    for (const watch of watches) watch.stop();
    await registry?.deregister().catch(() => undefined);
    api?.close();
    observer?.destroy();
    for (const { echo } of serving) echo.forceStop();
    await agent?.stop();
  });

  test('sees all three instances with their weights, tags and meta', async () => {
    const { instances } = await main.waitForUpdate((list) => list.length === 3, { since: 0, timeoutMs: 15_000 });
    const byId = new Map(instances.map((i) => [i.id, i]));
    serving.forEach(({ echo }, i) => {
      const instance = byId.get(`echo-127.0.0.1-${echo.port}`);
      assert.ok(instance, `instance of ${echo.name} missing`);
      assert.equal(instance.address, echo.address);
      assert.equal(instance.weight, i + 1);
      assert.deepEqual(instance.tags, { v1: '', index: String(i) });
    });
    // The weights are in Consul itself, not just in what this library reads back.
    const services = (await observer.agent.service.list()) as Record<string, { Weights: { Passing: number; Warning: number } }>;
    assert.deepEqual(
      serving.map(({ echo }) => services[`echo-127.0.0.1-${echo.port}`].Weights),
      [1, 2, 3].map((w) => ({ Passing: w, Warning: 1 })),
    );
    assert.equal(main.errors.filter((e) => !/no passing instances/.test(e.error.message)).length, 0);
  });

  test(`a deregistered instance leaves the list within ${UPDATE_BOUND_MS} ms`, async (t) => {
    const leaving = serving[0];
    const id = `echo-127.0.0.1-${leaving.echo.port}`;
    const sentAt = Date.now();
    await registry.deregister(id);
    const { at, instances } = await main.waitForUpdate((list) => !list.some((i) => i.id === id), { since: sentAt, timeoutMs: 2_000 });
    const latency = at - sentAt;
    t.diagnostic(`deregister request sent → listener updated: ${latency} ms`);
    assert.ok(latency < UPDATE_BOUND_MS, `took ${latency} ms`);
    assert.equal(instances.length, 2);

    const backAt = Date.now();
    await registry.register(leaving.registration);
    await main.waitForUpdate((list) => list.some((i) => i.id === id), { since: backAt, timeoutMs: 5_000 });
  });

  test('an instance whose gRPC health goes NOT_SERVING leaves the list, and comes back', async (t) => {
    const failing = serving[1];
    const id = `echo-127.0.0.1-${failing.echo.port}`;
    await main.waitForUpdate((list) => list.length === 3, { since: 0 });
    const checkStatus = async () => {
      const checks = (await observer.health.checks('echo')) as unknown as { ServiceID: string; Status: string }[];
      return checks.find((c) => c.ServiceID === id)?.Status;
    };
    const since = Date.now();
    failing.health.setStatus('', 'NOT_SERVING');
    const knownAt = await pollUntil(async () => (await checkStatus()) === 'critical', 5_000, 'Consul marking the check critical');
    const { at, instances } = await main.waitForUpdate((list) => !list.some((i) => i.id === id), { since, timeoutMs: 5_000 });
    t.diagnostic(`NOT_SERVING → Consul critical: ${knownAt - since} ms; listener updated ${at - knownAt} ms after a 5 ms poll of Consul saw it (negative: before)`);
    assert.ok(at - knownAt < UPDATE_BOUND_MS, `listener heard ${at - knownAt} ms after Consul knew`);
    assert.equal(instances.length, 2);

    const recoverAt = Date.now();
    failing.health.setStatus('', 'SERVING');
    await main.waitForUpdate((list) => list.some((i) => i.id === id), { since: recoverAt, timeoutMs: 5_000 });
  });

  test('a new weight shows in the reported weights, without the instance ever leaving', async (t) => {
    const target = serving[2];
    const id = `echo-127.0.0.1-${target.echo.port}`;
    await main.waitForUpdate((list) => list.length === 3, { since: 0 });
    const since = Date.now();
    await registry.register({ ...target.registration, weight: 10 });
    const { at } = await main.waitForUpdate((list) => list.find((i) => i.id === id)?.weight === 10, { since, timeoutMs: 2_000 });
    t.diagnostic(`re-register with a new weight → listener updated: ${at - since} ms`);
    assert.ok(at - since < UPDATE_BOUND_MS);
    for (const update of main.updates.filter((u) => u.at >= since)) {
      assert.ok(update.instances.some((i) => i.id === id), 'the instance must not drop out while its weight changes');
    }
    await registry.register(target.registration);
    await main.waitForUpdate((list) => list.find((i) => i.id === id)?.weight === 3, { since: at });
  });

  test('filters: tags, filter expression, passing-only vs warning with Weights.Warning, dc, near', async () => {
    const body = (id: string, address: string, tags: string[], zone: string, check?: object) => ({
      ID: id,
      Name: 'filtered',
      Address: address,
      Port: 7000,
      Tags: tags,
      Meta: { zone },
      Weights: { Passing: 4, Warning: 2 },
      ...(check ? { Check: check } : {}),
    });
    for (const [id, address, tags, zone, check] of [
      ['f-a', '10.1.0.1', ['v1'], 'a', undefined],
      ['f-b', '10.1.0.2', ['v1', 'canary'], 'b', undefined],
      ['f-c', '10.1.0.3', ['v2'], 'c', { TTL: '60s' }],
    ] as const) {
      assert.equal((await api.request('PUT', '/v1/agent/service/register', { body: body(id, address, [...tags], zone, check) })).status, 200);
    }
    assert.equal((await api.request('PUT', '/v1/agent/check/warn/service:f-c')).status, 200);

    const watch = async (options: Parameters<typeof consulResolver>[0], expected: string[]) => {
      const record = recordWatch(consulResolver({ address: agent.httpAddress, ...options }), 'filtered');
      watches.push(record);
      const { instances } = await record.waitForUpdate(() => true, { since: 0 });
      record.stop();
      assert.deepEqual(ids(instances), expected, JSON.stringify(options));
      return instances;
    };
    await watch({}, ['f-a', 'f-b']);
    await watch({ tags: ['v1'] }, ['f-a', 'f-b']);
    await watch({ tags: ['v1', 'canary'] }, ['f-b']);
    await watch({ filter: 'Service.Meta.zone == "b"' }, ['f-b']);
    const withWarning = await watch({ onlyPassing: false }, ['f-a', 'f-b', 'f-c']);
    assert.deepEqual(
      withWarning.map((i) => [i.id, i.weight]),
      [
        ['f-a', 4],
        ['f-b', 4],
        ['f-c', 2],
      ],
    );
    await watch({ dc: 'dc1', near: '_agent', stale: false }, ['f-a', 'f-b']);

    const elsewhere = recordWatch(consulResolver({ address: agent.httpAddress, dc: 'nowhere' }), 'filtered');
    watches.push(elsewhere);
    const { error } = await elsewhere.waitForError(undefined, { since: 0 });
    elsewhere.stop();
    assert.match(error.message, /HTTP 500: No path to datacenter/);
    assert.equal(elsewhere.updates.length, 0);

    const bad = recordWatch(consulResolver({ address: agent.httpAddress, filter: 'Service.Meta.zone ==' }), 'filtered');
    watches.push(bad);
    const { error: filterError } = await bad.waitForError(undefined, { since: 0 });
    bad.stop();
    assert.match(filterError.message, /Failed to create boolean expression evaluator/);
  });

  test('consul:// targets resolve through the registered scheme with their parameters', async () => {
    const resolved = resolveTarget(parseTarget(`consul://${agent.httpAddress}/filtered?tag=canary&dc=dc1`));
    assert.equal(resolved.service, 'filtered');
    const record = recordWatch(resolved.resolver, resolved.service);
    watches.push(record);
    const { instances } = await record.waitForUpdate(() => true, { since: 0 });
    record.stop();
    assert.deepEqual(ids(instances), ['f-b']);
    assert.deepEqual(instances[0].tags, { v1: '', canary: '', zone: 'b' });
  });
});

/** An HTTP proxy in front of the agent that records every request it passes on. */
async function recordingProxy(upstreamPort: number) {
  const seen: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const upstream = http.request(
        { host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers, agent: false },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      // A client that gives up on a blocking query must not leave the upstream one waiting.
      res.on('close', () => upstream.destroy());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('registration: check kinds, weights and TTL heartbeats as Consul receives them', () => {
  let agent: ConsulAgent;
  let proxy: Awaited<ReturnType<typeof recordingProxy>>;
  let observer: Consul;
  let echo: EchoServer;
  let healthHttp: http.Server;
  let healthUrl: string;

  before(async () => {
    agent = await startConsul();
    proxy = await recordingProxy(agent.httpPort);
    observer = new Consul({ host: '127.0.0.1', port: agent.httpPort });
    echo = await startEchoServer({ name: 'kinds' });
    new HealthImplementation({ '': 'SERVING', 'test.echo.Echo': 'SERVING' }).addToServer(echo.server);
    healthHttp = http.createServer((req, res) => {
      res.writeHead(req.url === '/healthz' ? 200 : 404);
      res.end('ok');
    });
    await new Promise<void>((resolve) => healthHttp.listen(0, '127.0.0.1', resolve));
    healthUrl = `http://127.0.0.1:${(healthHttp.address() as AddressInfo).port}/healthz`;
  });

  after(async () => {
    observer?.destroy();
    await proxy?.close();
    echo?.forceStop();
    healthHttp?.close();
    await agent?.stop();
  });

  test('gRPC, HTTP, TCP and TTL checks are written as asked and each passes', async () => {
    const errors: Error[] = [];
    const registry = consulRegistry({ address: proxy.address, onError: (e) => errors.push(e) });
    const base = { name: 'kinds', address: '127.0.0.1', port: echo.port };
    await registry.register({ ...base, id: 'k-grpc', weight: 7, warningWeight: 0, check: { type: 'grpc', service: 'test.echo.Echo', interval: 1_000, timeout: '700ms', deregisterCriticalAfter: '90s' } });
    await registry.register({ ...base, id: 'k-http', check: { type: 'http', url: healthUrl, interval: '1s' } });
    await registry.register({ ...base, id: 'k-tcp', check: { type: 'tcp', interval: '1s' } });
    await registry.register({ ...base, id: 'k-ttl', check: { type: 'ttl', ttl: '1500ms' } });
    await registry.register({ ...base, id: 'k-none', check: false });

    const bodies = new Map(
      proxy.seen.filter((r) => r.url.startsWith('/v1/agent/service/register')).map((r) => {
        const body = JSON.parse(r.body) as { ID: string };
        return [body.ID, body as Record<string, any>];
      }),
    );
    assert.deepEqual(bodies.get('k-grpc'), {
      ID: 'k-grpc',
      Name: 'kinds',
      Port: echo.port,
      Address: '127.0.0.1',
      Weights: { Passing: 7, Warning: 0 },
      Check: {
        Name: 'gRPC health of kinds',
        GRPC: `127.0.0.1:${echo.port}/test.echo.Echo`,
        GRPCUseTLS: false,
        TLSSkipVerify: false,
        Interval: '1000ms',
        Timeout: '700ms',
        DeregisterCriticalServiceAfter: '90s',
      },
    });
    assert.equal(bodies.get('k-http')!.Check.HTTP, healthUrl);
    assert.equal(bodies.get('k-tcp')!.Check.TCP, `127.0.0.1:${echo.port}`);
    assert.deepEqual(bodies.get('k-ttl')!.Check, { Name: 'TTL heartbeat of kinds', TTL: '1500ms', DeregisterCriticalServiceAfter: '1m' });
    assert.equal(bodies.get('k-none')!.Check, undefined);

    const statuses = async () => {
      const checks = (await observer.health.checks('kinds')) as unknown as { ServiceID: string; Status: string; Type: string }[];
      return Object.fromEntries(checks.map((c) => [c.ServiceID, `${c.Type}:${c.Status}`]));
    };
    await pollUntil(
      async () => {
        const s = await statuses();
        return s['k-grpc'] === 'grpc:passing' && s['k-http'] === 'http:passing' && s['k-tcp'] === 'tcp:passing' && s['k-ttl'] === 'ttl:passing';
      },
      8_000,
      'every check passing',
    );
    // Three TTLs later the TTL check still passes: the library kept the heartbeat going.
    await sleep(4_500);
    assert.equal((await statuses())['k-ttl'], 'ttl:passing');
    const heartbeats = proxy.seen.filter((r) => r.url === `/v1/agent/check/pass/${encodeURIComponent('service:k-ttl')}`).length;
    assert.ok(heartbeats >= 4, `${heartbeats} heartbeats`);

    await registry.deregister();
    const services = (await observer.agent.service.list()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(services), []);
    const afterDeregister = proxy.seen.length;
    await sleep(1_200);
    assert.equal(proxy.seen.length, afterDeregister, 'no heartbeat after deregistration');
    assert.deepEqual(errors, []);
  });

  test('a default id is name-host-port; re-registering replaces the check', async () => {
    const registry = consulRegistry({ address: agent.httpAddress });
    const registered = await registry.register({ name: 'plain', address: '127.0.0.1', port: echo.port });
    assert.equal(registered.id, `plain-127.0.0.1-${echo.port}`);
    await registry.register({ name: 'plain', address: '127.0.0.1', port: echo.port, check: { type: 'ttl', ttl: '10s' } });
    const checks = (await observer.health.checks('plain')) as unknown as { Type: string }[];
    assert.deepEqual(checks.map((c) => c.Type), ['ttl']);
    await registered.deregister();
    assert.deepEqual(await observer.health.checks('plain'), []);
  });

  test('an unreachable agent makes register reject, naming the agent and the reason', async () => {
    const registry = consulRegistry({ address: '127.0.0.1:1', requestTimeoutMs: 2_000 });
    await assert.rejects(registry.register({ name: 'nowhere', port: 1, check: false }), /^ConsulError: consul PUT \/v1\/agent\/service\/register at http:\/\/127\.0\.0\.1:1: ECONNREFUSED/);
    // Nothing is left registered in the registry's own books: deregister() has nothing to do.
    await registry.deregister();
  });

  test('bad registrations throw a TypeError naming the field', async () => {
    const registry = consulRegistry({ address: agent.httpAddress });
    const cases: [unknown, RegExp][] = [
      [{ port: 1 }, /name must be a non-empty string/],
      [{ name: 'x', port: 0 }, /port must be an integer from 1 to 65535/],
      [{ name: 'x', port: 1, weight: 0 }, /weight must be an integer >= 1/],
      [{ name: 'x', port: 1, weight: 1.5 }, /weight/],
      [{ name: 'x', port: 1, warningWeight: -1 }, /warningWeight/],
      [{ name: 'x', port: 1, address: '10.0.0.1:50051' }, /address must be a host without a port/],
      [{ name: 'x', port: 1, tags: ['ok', ''] }, /tags\[1\]/],
      [{ name: 'x', port: 1, meta: { 'consul-x': 'v' } }, /meta key "consul-x"/],
      [{ name: 'x', port: 1, meta: { k: 1 } }, /meta\["k"\]/],
      [{ name: 'x', port: 1, check: { type: 'udp' } }, /check.type must be/],
      [{ name: 'x', port: 1, check: { type: 'ttl' } }, /check.ttl is required/],
      [{ name: 'x', port: 1, check: { type: 'ttl', ttl: '10ms' } }, /check.ttl must be at least 1000 ms/],
      [{ name: 'x', port: 1, check: { type: 'http', url: 'ftp://x' } }, /check.url/],
      [{ name: 'x', port: 1, check: { type: 'tcp', address: 'nohost' } }, /check.address/],
      [{ name: 'x', port: 1, check: { type: 'grpc', timeout: -5 } }, /check.timeout/],
    ];
    for (const [registration, message] of cases) {
      await assert.rejects(registry.register(registration as ConsulRegistration), (error: Error) => error instanceof TypeError && message.test(error.message), String(message));
    }
    assert.throws(() => registry.deregisterOnShutdown({} as never), /server must be a grpc-js Server/);
    assert.throws(() => registry.deregisterOnShutdown(echo.server, { signals: [] }), /signals/);
    assert.throws(() => registry.deregisterOnShutdown(echo.server, { drainMs: -1 }), /drainMs/);
    assert.throws(() => consulRegistry({ onError: 'x' as never }), /onError must be a function/);
    const services = (await observer.agent.service.list()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(services), [], 'nothing half-registered');
  });
});

describe('ACL token: sent as a header only, never in a URL or an error', () => {
  const MASTER = 'b1e2f3a4-0000-4000-8000-secret00master';
  const WRONG = 'c0ffee00-1111-4111-8111-secret0wrong0';
  let agent: ConsulAgent;
  let proxy: Awaited<ReturnType<typeof recordingProxy>>;

  before(async () => {
    agent = await startConsul({ aclMasterToken: MASTER });
    proxy = await recordingProxy(agent.httpPort);
  });
  after(async () => {
    await proxy?.close();
    await agent?.stop();
  });

  test('the right token reads and registers; a wrong one fails without the token in the error', async () => {
    const registry = consulRegistry({ address: proxy.address, token: MASTER });
    await registry.register({ name: 'guarded', address: '10.2.0.1', port: 9000, check: false });

    const good = recordWatch(consulResolver({ address: proxy.address, token: MASTER }), 'guarded');
    const { instances } = await good.waitForUpdate(() => true, { since: 0 });
    good.stop();
    assert.equal(instances[0].address, '10.2.0.1:9000');

    const wrong = recordWatch(consulResolver({ address: proxy.address, token: WRONG }), 'guarded');
    const { error } = await wrong.waitForError(undefined, { since: 0 });
    wrong.stop();
    assert.match(error.message, /HTTP 403: ACL not found/);
    assert.equal(wrong.updates.length, 0);

    // Anonymous reads are filtered by the default-deny policy: nothing visible, reported, not delivered.
    const anonymous = recordWatch(consulResolver({ address: proxy.address }), 'guarded');
    await anonymous.waitForError((e) => /no passing instances/.test(e.message), { since: 0 });
    anonymous.stop();
    assert.equal(anonymous.updates.length, 0);

    const badRegistry = consulRegistry({ address: proxy.address, token: WRONG });
    const rejection = await badRegistry.register({ name: 'guarded', address: '10.2.0.2', port: 9000, check: false }).catch((e: Error) => e);
    assert.ok(rejection instanceof Error);
    assert.match(rejection.message, /HTTP 403/);

    await registry.deregister();

    const everything = [error, rejection, ...wrong.errors.map((e) => e.error), ...anonymous.errors.map((e) => e.error)];
    for (const e of everything) {
      for (const secret of [MASTER, WRONG]) {
        assert.ok(!e.message.includes(secret), `token in error message: ${e.message}`);
        assert.ok(!String(e.stack).includes(secret), 'token in error stack');
      }
    }
    assert.ok(proxy.seen.length >= 6);
    for (const request of proxy.seen) {
      for (const secret of [MASTER, WRONG]) assert.ok(!request.url.includes(secret), `token in URL ${request.url}`);
      if (request.headers['x-consul-token'] !== undefined) assert.ok([MASTER, WRONG].includes(String(request.headers['x-consul-token'])));
    }
    assert.ok(proxy.seen.some((r) => r.headers['x-consul-token'] === MASTER && r.url.startsWith('/v1/health/service/guarded')));
    assert.ok(proxy.seen.some((r) => r.headers['x-consul-token'] === MASTER && r.url.startsWith('/v1/agent/service/register')));
  });
});

describe('Consul going away and coming back', () => {
  let agent: ConsulAgent;
  let api: ConsulApi;

  before(async () => {
    agent = await startConsul();
    api = new ConsulApi({ address: agent.httpAddress });
  });
  after(async () => {
    api?.close();
    await agent?.stop();
  });

  test('the agent killed: errors reported, no empty list, and the watch resumes after a restart on the same ports', async (t) => {
    const register = async (id: string, address: string) =>
      assert.equal((await api.request('PUT', '/v1/agent/service/register', { body: { ID: id, Name: 'phoenix', Address: address, Port: 8000 } })).status, 200);
    await register('p1', '10.3.0.1');
    const record = recordWatch(consulResolver({ address: agent.httpAddress, backoff: { initialMs: 100, maxMs: 1_000 } }), 'phoenix');
    try {
      await record.waitForUpdate((list) => list.length === 1, { since: 0 });
      // Push the watch's index well past anything the restarted (empty) agent will reach soon: a
      // watch that kept blocking on the old index would then miss every change after the restart.
      for (let i = 0; i < 150; i++) {
        const body = { ID: 'p1', Name: 'phoenix', Address: '10.3.0.1', Port: 8000, Meta: { round: String(i) } };
        assert.equal((await api.request('PUT', '/v1/agent/service/register', { body })).status, 200);
      }
      await record.waitForUpdate((list) => list[0]?.tags?.round === '149', { since: 0 });
      const updatesBefore = record.updates.length;

      const killedAt = Date.now();
      await agent.kill();
      const { error } = await record.waitForError(undefined, { since: killedAt, timeoutMs: 3_000 });
      assert.match(error.message, /ECONNRESET|ECONNREFUSED|socket hang up/);
      await sleep(1_500);
      const errorsWhileDown = record.errors.filter((e) => e.at >= killedAt).length;
      assert.ok(errorsWhileDown >= 2, `retries keep reporting (${errorsWhileDown} errors)`);
      assert.ok(errorsWhileDown <= 10, `retries back off (${errorsWhileDown} errors in 1.5 s)`);
      assert.equal(record.updates.length, updatesBefore, 'nothing delivered while Consul is down');

      await agent.restart();
      const restartedAt = Date.now();
      // A dev agent restarts empty: the watch must see what is registered after the restart.
      await register('p2', '10.3.0.2');
      await register('p3', '10.3.0.3');
      const { at, instances } = await record.waitForUpdate((list) => list.length === 2, { since: restartedAt, timeoutMs: 5_000 });
      t.diagnostic(`agent restarted → watch delivered the new list: ${at - restartedAt} ms`);
      assert.deepEqual(ids(instances), ['p2', 'p3']);
      assert.ok(record.updates.every((u) => u.instances.length > 0), 'no empty list delivered, ever');

      // And it is a live blocking watch again, not a one-off read.
      const changeAt = Date.now();
      await api.request('PUT', '/v1/agent/service/deregister/p2');
      const change = await record.waitForUpdate((list) => list.length === 1, { since: changeAt, timeoutMs: 2_000 });
      assert.ok(change.at - changeAt < UPDATE_BOUND_MS);
    } finally {
      record.stop();
    }
  });
});
