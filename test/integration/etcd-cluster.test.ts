import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient, etcdRegistry, etcdResolver, type EtcdRegistry } from '../../src';
import { eventually, sleep, steadyLoad, type Echo } from '../helpers/calls';
import { EchoClient, startEchoServer, type EchoServer } from '../helpers/echo-server';
import { startEtcd, type EtcdCluster } from '../helpers/etcd-server';

describe('a 3-member etcd cluster', () => {
  let etcd: EtcdCluster;
  let registry: EtcdRegistry;
  const servers: EchoServer[] = [];
  const errors: Error[] = [];
  let client: Echo | undefined;

  before(async () => {
    etcd = await startEtcd({ members: 3 });
    registry = etcdRegistry({ hosts: etcd.hosts, leaseTtlMs: 10_000, onError: (e) => errors.push(e) });
    for (let i = 0; i < 3; i++) {
      const echo = await startEchoServer({ name: `s${i}` });
      servers.push(echo);
      await registry.register({ name: 'echo', address: '127.0.0.1', port: echo.port });
    }
  });
  after(async () => {
    client?.close();
    await registry?.deregister().catch(() => undefined);
    for (const server of servers) server.forceStop();
    await etcd?.stop();
  });

  test('loses its leader under load: no call fails, the leases hold, and changes after the election reach the client', async (t) => {
    client = createClient(EchoClient, { resolver: etcdResolver({ hosts: etcd.hosts }), service: 'echo' }) as unknown as Echo;
    const c = client;
    await eventually(() => c.endpoints().filter((e) => e.available).length === 3, 15_000, 'three ready endpoints');
    const { calls, failures, stop } = steadyLoad(c);
    try {
      await sleep(200);
      const leader = await etcd.leader();
      const killedAt = Date.now();
      await leader.kill();
      const next = await etcd.leader();
      t.diagnostic(`leader ${leader.name} killed; ${next.name} leads ${Date.now() - killedAt} ms later`);
      await sleep(500);
      // The watch goes on through a surviving member: a deregistration after the election is followed.
      const before = Date.now();
      await registry.deregister(`/services/echo/127.0.0.1:${servers[0].port}`);
      await eventually(() => c.endpoints().every((e) => e.address !== servers[0].address), 10_000, 's0 gone from the client');
      t.diagnostic(`deregistration after the election reached the client in ${Date.now() - before} ms`);
      await sleep(300);
      assert.ok(calls.filter((call) => call.startedAt > killedAt).length > 50, 'traffic went on through the election');
    } finally {
      await stop();
    }
    assert.deepEqual(failures, [], 'no call failed while etcd elected a new leader');
    assert.deepEqual(
      errors.filter((e) => /lost/.test(e.message)),
      [],
      'no lease was lost in the election',
    );
  });
});
