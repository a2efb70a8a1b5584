import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Etcd3 } from 'etcd3';
import { createClient, etcdRegistry, etcdResolver, type EtcdRegistry } from '../../src';
import { recordWatch } from '../helpers/consul-agent';
import { eventually, sleep, steadyLoad, unary, type Echo } from '../helpers/calls';
import { EchoClient, startEchoServer, type EchoServer } from '../helpers/echo-server';
import { startEtcd, type EtcdCluster } from '../helpers/etcd-server';

/** The bound between etcd dropping an instance and the client no longer starting calls to it. */
const STOP_BOUND_MS = 200;
const ROOT = join(__dirname, '..', '..');

describe('createClient over etcd:// with servers registered by etcdRegistry', () => {
  let etcd: EtcdCluster;
  let registry: EtcdRegistry;
  const servers: EchoServer[] = [];
  const errors: Error[] = [];
  let client: Echo | undefined;

  before(async () => {
    etcd = await startEtcd();
    // A short TTL so the restart test sees the lease lost at once; renewals every second.
    registry = etcdRegistry({ hosts: etcd.hosts, leaseTtlMs: 3_000, onError: (e) => errors.push(e) });
    for (let i = 0; i < 3; i++) {
      const echo = await startEchoServer({ name: `s${i}` });
      servers.push(echo);
      await registry.register({ name: 'echo', address: '127.0.0.1', port: echo.port, weight: i + 1 });
    }
  });
  after(async () => {
    client?.close();
    await registry?.deregister().catch(() => undefined);
    for (const server of servers) server.forceStop();
    await etcd?.stop();
  });

  test(`three servers balance by weight; one deregisters and gets no call started ${STOP_BOUND_MS} ms later`, async (t) => {
    client = createClient(EchoClient, { target: `etcd://${etcd.hosts}/echo` }) as unknown as Echo;
    const c = client;
    await eventually(() => c.endpoints().filter((e) => e.available).length === 3, 15_000, 'three ready endpoints');
    const counts: Record<string, number> = {};
    for (let i = 0; i < 600; i++) {
      const reply = await unary(c, { message: `m${i}` });
      counts[reply.server] = (counts[reply.server] ?? 0) + 1;
    }
    t.diagnostic(`600 calls over weights 1:2:3 → ${JSON.stringify(counts)}`);
    assert.ok(Math.abs(counts.s0 - 100) <= 10 && Math.abs(counts.s1 - 200) <= 10 && Math.abs(counts.s2 - 300) <= 10, JSON.stringify(counts));

    const { calls, failures, stop } = steadyLoad(c);
    await sleep(300);
    const deregisteredAt = Date.now();
    await registry.deregister(`/services/echo/127.0.0.1:${servers[0].port}`);
    await sleep(700);
    await stop();
    const lastToS0 = Math.max(...calls.filter((call) => call.server === 's0').map((call) => call.startedAt));
    t.diagnostic(`last call started towards s0: ${lastToS0 - deregisteredAt} ms after the deregister request was sent`);
    assert.ok(lastToS0 - deregisteredAt < STOP_BOUND_MS, `s0 still got a call started ${lastToS0 - deregisteredAt} ms later`);
    assert.ok(calls.some((call) => call.startedAt < deregisteredAt && call.server === 's0'), 's0 did serve before');
    assert.ok(calls.filter((call) => call.startedAt > deregisteredAt + STOP_BOUND_MS).length > 50, 'traffic went on');
    assert.deepEqual(failures, [], 'no call failed while the instance left');
  });

  test('etcd restarted empty under load: no call fails, the registry registers again, the watch resumes and follows later changes', async (t) => {
    const c = client!;
    await eventually(() => c.endpoints().filter((e) => e.available).length === 2, 5_000, 'two endpoints (s1, s2)');
    const { calls, failures, stop } = steadyLoad(c);
    await sleep(200);
    const errorsBefore = errors.length;
    // A replaced single-member etcd: the same address, no data, revisions from 1 again.
    await etcd.members[0].start({ wipe: true });
    const restartedAt = Date.now();
    const kv = new Etcd3({ hosts: `http://${etcd.hosts}` });
    try {
      await eventually(async () => (await kv.getAll().prefix('/services/echo/').keys()).length === 2, 10_000, 's1 and s2 registered again');
      t.diagnostic(`registry registered again ${Date.now() - restartedAt} ms after etcd was back`);
      assert.ok(errors.slice(errorsBefore).some((e) => /lease of "\/services\/echo\/127\.0\.0\.1:\d+" lost; registering it again/.test(e.message)), 'the loss was reported');
      // Later changes reach the client through the resumed watch.
      const s3 = await startEchoServer({ name: 's3' });
      servers.push(s3);
      await registry.register({ name: 'echo', address: '127.0.0.1', port: s3.port });
      await eventually(() => c.endpoints().some((e) => e.address === s3.address && e.available), 10_000, 's3 seen by the client');
      t.diagnostic(`client followed a registration made after the restart ${Date.now() - restartedAt} ms after etcd was back`);
      await sleep(300);
    } finally {
      kv.close();
      await stop();
    }
    assert.deepEqual(failures, [], 'no call failed while etcd restarted');
    assert.ok(calls.some((call) => call.server === 's3'), 's3 got calls');
  });

  /** A service process: an Echo server registered in etcd as `name`, printing its port once registered. */
  async function spawnService(name: string, ttlMs: number, onShutdown: boolean) {
    const script = `
      const { etcdRegistry } = require(${JSON.stringify(join(ROOT, 'src', 'registry'))});
      const { startEchoServer } = require(${JSON.stringify(join(ROOT, 'test', 'helpers', 'echo-server'))});
      (async () => {
        const echo = await startEchoServer({ name: '${name}' });
        const registry = etcdRegistry({ hosts: process.env.TEST_ETCD_HOSTS, leaseTtlMs: ${ttlMs} });
        await registry.register({ name: '${name}', address: '127.0.0.1', port: echo.port });
        if (${onShutdown}) registry.deregisterOnShutdown(echo.server, { drainMs: 500 });
        console.log(JSON.stringify({ port: echo.port }));
      })();
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], {
      cwd: ROOT,
      env: { ...process.env, TEST_ETCD_HOSTS: etcd.hosts },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<{ signal: NodeJS.Signals | null; at: number }>((resolve) => child.once('exit', (_code, signal) => resolve({ signal, at: Date.now() })));
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`service process exited (${code}) before registering`)));
    });
    return { child, exited, port: (JSON.parse(line) as { port: number }).port };
  }

  test('SIGTERM with deregisterOnShutdown: the key leaves etcd at once, the server drains, the process ends by the signal', async (t) => {
    const service = await spawnService('graceful', 30_000, true);
    const watch = recordWatch(etcdResolver({ hosts: etcd.hosts }), 'graceful');
    try {
      await watch.waitForUpdate((list) => list.length === 1, { since: 0 });
      const signalledAt = Date.now();
      service.child.kill('SIGTERM');
      const gone = await watch.waitForError((e) => /no instances of "graceful"/.test(e.message), { since: signalledAt });
      const exit = await service.exited;
      t.diagnostic(`left etcd ${gone.at - signalledAt} ms after SIGTERM (lease 30 s); the process ended ${exit.at - signalledAt} ms after it`);
      assert.ok(gone.at - signalledAt < 2_000, 'left through the revoked lease, not its expiry');
      assert.ok(exit.at - signalledAt >= 500, 'kept serving through its 500 ms drain');
      assert.equal(exit.signal, 'SIGTERM');
    } finally {
      watch.stop();
      service.child.kill('SIGKILL');
    }
  });

  test('a registered process killed with SIGKILL leaves when its lease expires', async (t) => {
    const ttlMs = 2_000;
    const { child, port } = await spawnService('doomed', ttlMs, false);
    try {
      const watch = recordWatch(etcdResolver({ hosts: etcd.hosts }), 'doomed');
      try {
        await watch.waitForUpdate((list) => list.length === 1 && list[0].address === `127.0.0.1:${port}`, { since: 0 });
        const killedAt = Date.now();
        child.kill('SIGKILL');
        const gone = await watch.waitForError((e) => /no instances of "doomed"/.test(e.message), { timeoutMs: ttlMs + 8_000, since: killedAt });
        const took = gone.at - killedAt;
        t.diagnostic(`lease TTL ${ttlMs} ms, renewed every ${ttlMs / 3} ms: the instance left ${took} ms after the kill`);
        // Expiry comes between TTL − one renewal period and TTL after the kill, plus etcd's
        // half-second expiry sweep and a loaded machine.
        assert.ok(took >= ttlMs - ttlMs / 3 - 200, `left after ${took} ms: before its lease could have expired`);
        assert.ok(took <= ttlMs + 3_000, `left only after ${took} ms`);
      } finally {
        watch.stop();
      }
    } finally {
      child.kill('SIGKILL');
    }
  });
});
