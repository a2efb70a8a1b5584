import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { createClient } from '../../src';
import { dnsResolver, isDnsError } from '../../src/resolver/dns';
import type { Instance } from '../../src/resolver/types';
import { ConsulApi, recordWatch, startConsul, type ConsulAgent, type WatchRecord } from '../helpers/consul-agent';
import type { Echo } from '../helpers/calls';
import { EchoClient, startEchoServer, type EchoReply, type EchoServer } from '../helpers/echo-server';

/** Consul's DNS TTL for service records in these tests (its default, 0, would hide TTL handling). */
const SERVICE_TTL_S = 2;
const addresses = (list: Instance[]) => list.map((i) => i.address);

describe("dnsResolver against Consul's DNS interface", () => {
  let agent: ConsulAgent;
  let api: ConsulApi;
  const records: WatchRecord[] = [];

  const register = async (id: string, name: string, address: string, port: number, weight = 1) => {
    const body = { ID: id, Name: name, Address: address, Port: port, Weights: { Passing: weight, Warning: 1 } };
    assert.equal((await api.request('PUT', '/v1/agent/service/register', { body })).status, 200);
  };
  const deregister = async (id: string) => assert.equal((await api.request('PUT', `/v1/agent/service/deregister/${id}`)).status, 200);
  const watch = (name: string, options: Parameters<typeof dnsResolver>[0] = {}) => {
    const record = recordWatch(dnsResolver({ servers: [agent.dnsAddress], ...options }), name);
    records.push(record);
    return record;
  };

  before(async () => {
    agent = await startConsul({ dnsServiceTtl: `${SERVICE_TTL_S}s` });
    api = new ConsulApi({ address: agent.httpAddress });
    await register('web-1', 'web', '127.0.0.2', 9001, 1);
    await register('web-2', 'web', '127.0.0.3', 9002, 2);
    await register('web-3', 'web', '127.0.0.4', 9003, 3);
    await register('web6-1', 'web6', '::2', 9100);
  });
  after(async () => {
    for (const record of records) record.stop();
    api?.close();
    await agent?.stop();
  });

  test('A records: every instance address with the port from the name', async () => {
    const record = watch('web.service.consul:50051');
    const { instances } = await record.waitForUpdate(() => true, { since: 0 });
    assert.deepEqual(addresses(instances), ['127.0.0.2:50051', '127.0.0.3:50051', '127.0.0.4:50051']);
  });

  test('AAAA records, and NODATA when only IPv4 is asked for a v6-only name', async () => {
    const any = watch('web6.service.consul:7');
    assert.deepEqual(addresses((await any.waitForUpdate(() => true, { since: 0 })).instances), ['[::2]:7']);
    const v4 = watch('web6.service.consul:7', { family: 'ipv4' });
    const { error } = await v4.waitForError(undefined, { since: 0 });
    assert.ok(isDnsError(error));
    assert.equal(error.code, 'NODATA');
    assert.equal(v4.updates.length, 0);
  });

  test("SRV records: each instance's port and Consul weight", async () => {
    const expected = [
      { address: '127.0.0.2:9001', weight: 1 },
      { address: '127.0.0.3:9002', weight: 2 },
      { address: '127.0.0.4:9003', weight: 3 },
    ];
    const byName = watch('_web._tcp.service.consul');
    assert.deepEqual((await byName.waitForUpdate(() => true, { since: 0 })).instances, expected);
    const byOption = watch('web.service.consul', { srv: true });
    assert.deepEqual((await byOption.waitForUpdate(() => true, { since: 0 })).instances, expected);
  });

  test("re-resolution follows the records' TTL and sees a new instance", async (t) => {
    const record = watch('_ttl._tcp.service.consul', { minTtlMs: 100, maxTtlMs: 60_000 });
    await register('ttl-1', 'ttl', '127.0.0.5', 9201);
    const first = await record.waitForUpdate(() => true, { since: 0 });
    await register('ttl-2', 'ttl', '127.0.0.6', 9202);
    const { at, instances } = await record.waitForUpdate((list) => list.length === 2, { since: first.at, timeoutMs: 6_000 });
    t.diagnostic(`new instance seen ${at - first.at} ms after the previous answer (TTL ${SERVICE_TTL_S} s)`);
    assert.deepEqual(addresses(instances), ['127.0.0.5:9201', '127.0.0.6:9202']);
    // Not sooner (minTtlMs would allow every 100 ms), not much later: the TTL set the pace.
    assert.ok(at - first.at >= SERVICE_TTL_S * 1000 - 100 && at - first.at < SERVICE_TTL_S * 1000 + 800, `${at - first.at} ms`);
  });

  test('NXDOMAIN (the last instance left) is reported as an error and no empty list is delivered', async () => {
    await register('gone-1', 'gone', '127.0.0.7', 9301);
    const record = watch('gone.service.consul:9301', { minTtlMs: 100, backoff: { initialMs: 200, maxMs: 400 } });
    await record.waitForUpdate(() => true, { since: 0 });
    const leftAt = Date.now();
    await deregister('gone-1');
    const { error } = await record.waitForError(undefined, { since: leftAt, timeoutMs: 5_000 });
    assert.ok(isDnsError(error));
    assert.equal(error.code, 'NXDOMAIN');
    assert.equal(record.updates.length, 1);
    assert.deepEqual(addresses(record.latest()!), ['127.0.0.7:9301'], 'the last good list is the last one delivered');

    const backAt = Date.now();
    await register('gone-2', 'gone', '127.0.0.8', 9302);
    const { instances } = await record.waitForUpdate(() => true, { since: backAt, timeoutMs: 5_000 });
    assert.deepEqual(addresses(instances), ['127.0.0.8:9301']);
  });

  test('resolveNow picks a change up before the TTL runs out', async () => {
    const resolver = dnsResolver({ servers: [agent.dnsAddress], minTtlMs: 30_000, minResolveIntervalMs: 0 });
    const record = recordWatch(resolver, '_now._tcp.service.consul');
    records.push(record);
    await register('now-1', 'now', '127.0.0.9', 9401);
    const first = await record.waitForUpdate(() => true, { since: 0 });
    await register('now-2', 'now', '127.0.0.10', 9402);
    resolver.resolveNow();
    const { at } = await record.waitForUpdate((list) => list.length === 2, { since: first.at, timeoutMs: 2_000 });
    assert.ok(at - first.at < 1_000);
  });
});

describe('createClient over dns:// SRV records from Consul', () => {
  let agent: ConsulAgent;
  let api: ConsulApi;
  const servers: EchoServer[] = [];
  let client: Echo | undefined;

  before(async () => {
    agent = await startConsul();
    api = new ConsulApi({ address: agent.httpAddress });
    for (let i = 0; i < 2; i++) {
      const echo = await startEchoServer({ name: `d${i}` });
      servers.push(echo);
      const body = { ID: `echo-${i}`, Name: 'echo', Address: '127.0.0.1', Port: echo.port };
      assert.equal((await api.request('PUT', '/v1/agent/service/register', { body })).status, 200);
    }
  });
  after(async () => {
    client?.close();
    api?.close();
    for (const server of servers) server.forceStop();
    await agent?.stop();
  });

  test('calls reach both servers found through SRV', async () => {
    client = createClient(EchoClient, { target: `dns://${agent.dnsAddress}/_echo._tcp.service.consul` }) as unknown as Echo;
    const c = client;
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const reply = await new Promise<EchoReply>((resolve, reject) =>
        c.unary({ message: 'hi' }, (error: grpc.ServiceError | null, r: EchoReply) => (error ? reject(error) : resolve(r))),
      );
      seen.add(reply.server);
    }
    assert.deepEqual([...seen].sort(), ['d0', 'd1']);
  });
});
