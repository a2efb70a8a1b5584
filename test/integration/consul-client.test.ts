import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { HealthImplementation } from 'grpc-health-check';
import { createClient } from '../../src';
import { consulRegistry, type ConsulRegistry } from '../../src';
import { startConsul, type ConsulAgent } from '../helpers/consul-agent';
import { eventually, sleep, steadyLoad, unary, type Echo } from '../helpers/calls';
import { EchoClient, startEchoServer, type EchoServer } from '../helpers/echo-server';

/** The bound between Consul dropping an instance and the client no longer sending it calls. */
const STOP_BOUND_MS = 200;

describe('createClient over consul:// with three registered servers', () => {
  let agent: ConsulAgent;
  let registry: ConsulRegistry;
  const servers: EchoServer[] = [];
  let client: Echo | undefined;

  before(async () => {
    agent = await startConsul();
    registry = consulRegistry({ address: agent.httpAddress });
    for (let i = 0; i < 3; i++) {
      const echo = await startEchoServer({ name: `s${i}` });
      new HealthImplementation({ '': 'SERVING' }).addToServer(echo.server);
      servers.push(echo);
      await registry.register({ name: 'echo', address: '127.0.0.1', port: echo.port, weight: i + 1, check: { type: 'grpc', interval: '1s' } });
    }
  });

  after(async () => {
    client?.close();
    await registry?.deregister().catch(() => undefined);
    for (const server of servers) server.forceStop();
    await agent?.stop();
  });

  test(`balances by Consul weight, and a deregistered server stops getting calls within ${STOP_BOUND_MS} ms`, async (t) => {
    client = createClient(EchoClient, { target: `consul://${agent.httpAddress}/echo` }) as unknown as Echo;
    const c = client;
    await eventually(() => c.endpoints().filter((e) => e.available).length === 3, 15_000, 'three ready endpoints');

    const counts: Record<string, number> = {};
    for (let i = 0; i < 600; i++) {
      const reply = await unary(c, { message: `m${i}` });
      counts[reply.server] = (counts[reply.server] ?? 0) + 1;
    }
    t.diagnostic(`600 calls over weights 1:2:3 → ${JSON.stringify(counts)}`);
    // Weighted round robin over 1:2:3 is exact: 100, 200, 300.
    assert.ok(Math.abs(counts.s0 - 100) <= 10 && Math.abs(counts.s1 - 200) <= 10 && Math.abs(counts.s2 - 300) <= 10, JSON.stringify(counts));

    // Steady traffic from four concurrent callers; s0 leaves Consul in the middle.
    const { calls, failures, stop } = steadyLoad(c);
    await sleep(300);
    const deregisteredAt = Date.now();
    await registry.deregister(`echo-127.0.0.1-${servers[0].port}`);
    await sleep(700);
    await stop();

    const lastToS0 = Math.max(...calls.filter((call) => call.server === 's0').map((call) => call.startedAt));
    t.diagnostic(`last call started towards s0: ${lastToS0 - deregisteredAt} ms after the deregister request was sent`);
    assert.ok(lastToS0 - deregisteredAt < STOP_BOUND_MS, `s0 still got a call started ${lastToS0 - deregisteredAt} ms later`);
    assert.ok(calls.filter((call) => call.startedAt < deregisteredAt && call.server === 's0').length > 0, 's0 did serve before');
    assert.ok(calls.filter((call) => call.startedAt > deregisteredAt + STOP_BOUND_MS).length > 50, 'traffic went on');
    assert.deepEqual(failures, [], 'no call failed while the instance left');
  });

  test('the agent killed under load: no call fails; after a restart the watch resumes and follows Consul again', async (t) => {
    const c = client!;
    // The first test took s0 out; the client balances over s1 and s2.
    await eventually(() => c.endpoints().filter((e) => e.available).length === 2, 5_000, 'two endpoints');
    const { calls, failures, stop } = steadyLoad(c);
    await sleep(200);
    await agent.kill();
    await sleep(1_000);
    const whileDown = calls.length;
    await agent.restart();
    // A dev agent restarts empty: register s2 alone; the client must follow the new list.
    const restartedAt = Date.now();
    await registry.register({ name: 'echo', address: '127.0.0.1', port: servers[2].port, weight: 1, check: { type: 'grpc', interval: '1s' } });
    await eventually(() => c.endpoints().length === 1, 10_000, 'the list after the restart');
    const followedAt = Date.now();
    t.diagnostic(`agent restarted → client followed the new list in ${followedAt - restartedAt} ms`);
    await sleep(200);
    await stop();
    assert.deepEqual(failures, [], 'no call failed while Consul was down or restarting');
    assert.ok(whileDown > 50, `calls went on while Consul was down (${whileDown})`);
    assert.ok(calls.filter((call) => call.startedAt > followedAt).every((call) => call.server === 's2'), 'only s2 after the restart');
  });
});
