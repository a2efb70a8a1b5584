import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { generate } from 'selfsigned';
import { etcdRegistry, etcdResolver, parseTarget, resolveTarget } from '../../src';
import { recordWatch } from '../helpers/consul-agent';
import { startEtcd, type EtcdCluster } from '../helpers/etcd-server';

const addresses = (list: { address: string }[] | undefined) => (list ?? []).map((i) => i.address).sort();

describe('etcdResolver against a real etcd', () => {
  let etcd: EtcdCluster;
  let kv: Etcd3;

  before(async () => {
    etcd = await startEtcd();
    kv = new Etcd3({ hosts: `http://${etcd.members[0].clientAddress}` });
  });
  after(async () => {
    kv?.close();
    await etcd?.stop();
  });

  test('reads the full list once, then follows puts and deletes from the next revision; skips bad values and says why', async () => {
    await kv.put('/services/users/10.0.0.1:50051').value(JSON.stringify({ address: '10.0.0.1:50051', weight: 2, tags: ['v1'], meta: { zone: 'a' } }));
    await kv.put('/services/users/10.0.0.2:50051').value(JSON.stringify({ address: '10.0.0.2:50051' }));
    // A service whose name extends this one's must not leak in.
    await kv.put('/services/users/admin/10.0.0.9:50051').value(JSON.stringify({ address: '10.0.0.9:50051' }));
    const watch = recordWatch(etcdResolver({ hosts: etcd.hosts }), 'users');
    try {
      const first = await watch.waitForUpdate((list) => list.length === 2, { since: 0 });
      assert.deepEqual(first.instances[0], {
        address: '10.0.0.1:50051',
        weight: 2,
        tags: { v1: '', zone: 'a' },
        id: '/services/users/10.0.0.1:50051',
      });
      await kv.put('/services/users/10.0.0.3:50051').value(JSON.stringify({ address: '10.0.0.3:50051', weight: 1 }));
      await watch.waitForUpdate((list) => list.length === 3, { since: 0 });
      await kv.delete().key('/services/users/10.0.0.1:50051');
      await watch.waitForUpdate((list) => addresses(list).join() === '10.0.0.2:50051,10.0.0.3:50051', { since: 0 });
      const since = Date.now();
      await kv.put('/services/users/bad').value('not json');
      const bad = await watch.waitForError((e) => /skipped unusable/.test(e.message), { since });
      assert.match(bad.error.message, /"\/services\/users\/bad": value is not JSON/);
      assert.deepEqual(addresses(watch.latest()), ['10.0.0.2:50051', '10.0.0.3:50051'], 'the good instances stay');
    } finally {
      watch.stop();
    }
  });

  test('request deadlines are read from the `now` clock given', async () => {
    await kv.put('/services/clocked/10.0.0.1:50051').value(JSON.stringify({ address: '10.0.0.1:50051' }));
    // A clock a day behind puts every request's deadline in the past: the read fails at once.
    const behind = recordWatch(etcdResolver({ hosts: etcd.hosts, now: () => Date.now() - 86_400_000 }), 'clocked');
    try {
      const { error } = await behind.waitForError(undefined, { since: 0 });
      assert.match(error.message, /deadline|DEADLINE_EXCEEDED/i);
      assert.equal(behind.latest(), undefined, 'no list was read');
    } finally {
      behind.stop();
    }
    const onTime = recordWatch(etcdResolver({ hosts: etcd.hosts, now: () => Date.now() }), 'clocked');
    try {
      await onTime.waitForUpdate((list) => list.length === 1, { since: 0 });
    } finally {
      onTime.stop();
    }
  });

  test("a user's own Etcd3 client is used as given and left open", async () => {
    await kv.put('/services/own-client/10.5.0.1:1').value(JSON.stringify({ address: '10.5.0.1:1' }));
    const watch = recordWatch(etcdResolver({ client: kv }), 'own-client');
    await watch.waitForUpdate((list) => list.length === 1, { since: 0 });
    watch.stop();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(await kv.get('/services/own-client/10.5.0.1:1').string(), JSON.stringify({ address: '10.5.0.1:1' }), 'the client still works');
  });

  test('deleting every key is reported and keeps the last list', async () => {
    await kv.put('/services/lonely/10.0.1.1:1').value(JSON.stringify({ address: '10.0.1.1:1' }));
    const watch = recordWatch(etcdResolver({ hosts: etcd.hosts }), 'lonely');
    try {
      await watch.waitForUpdate((list) => list.length === 1);
      const updates = watch.updates.length;
      const since = Date.now();
      await kv.delete().key('/services/lonely/10.0.1.1:1');
      const error = await watch.waitForError((e) => /no instances/.test(e.message), { since });
      assert.match(error.error.message, /no instances of "lonely"/);
      assert.equal(watch.updates.length, updates, 'no empty list was delivered');
    } finally {
      watch.stop();
    }
  });

  test('keys written as grpc-go naming endpoints and as Kitex registry-etcd resolve', async () => {
    // As go.etcd.io/etcd/client/v3/naming/endpoints' manager writes them (key <target>/<anything>).
    await kv.put('foo/bar/greeter/e1').value(JSON.stringify({ Op: 0, Addr: '10.1.0.1:8080', Metadata: { zone: 'a' } }));
    await kv.put('foo/bar/greeter/e2').value(JSON.stringify({ Op: 0, Addr: '10.1.0.2:8080', Metadata: null }));
    await kv.put('foo/bar/greeter/e3').value(JSON.stringify({ Op: 1, Addr: '10.1.0.3:8080' }));
    // As kitex-contrib/registry-etcd writes them.
    await kv.put('kitex/registry-etcd/cart/10.2.0.1:8888').value(JSON.stringify({ network: 'tcp', address: '10.2.0.1:8888', weight: 10, tags: { cluster: 'c1' } }));
    await kv.put('kitex/registry-etcd/cart/10.2.0.2:8888').value(JSON.stringify({ network: 'tcp', address: '10.2.0.2:8888', weight: 30, tags: {} }));

    const go = recordWatch(resolveTarget(parseTarget(`etcd://${etcd.hosts}/foo/bar/greeter?format=grpc-go`)).resolver, 'foo/bar/greeter');
    const kitex = recordWatch(etcdResolver({ hosts: etcd.hosts, format: 'kitex' }), 'cart');
    try {
      const goList = (await go.waitForUpdate((list) => list.length === 2, { since: 0 })).instances;
      assert.deepEqual(
        goList.map(({ address, weight, tags }) => ({ address, weight, tags })),
        [
          { address: '10.1.0.1:8080', weight: 1, tags: { zone: 'a' } },
          { address: '10.1.0.2:8080', weight: 1, tags: {} },
        ],
      );
      const kitexList = (await kitex.waitForUpdate((list) => list.length === 2, { since: 0 })).instances;
      assert.deepEqual(
        kitexList.map(({ address, weight, tags }) => ({ address, weight, tags })),
        [
          { address: '10.2.0.1:8888', weight: 10, tags: { cluster: 'c1' } },
          { address: '10.2.0.2:8888', weight: 30, tags: {} },
        ],
      );
    } finally {
      go.stop();
      kitex.stop();
    }
  });

  test('what our registry writes in the Go and Kitex layouts is what those layouts hold', async () => {
    for (const format of ['grpc-go', 'kitex'] as const) {
      const registry = etcdRegistry({ hosts: etcd.hosts, format, leaseTtlMs: 5_000 });
      const registered = await registry.register({ name: `ours-${format}`, address: '127.0.0.1', port: 7000, weight: 3, tags: ['blue'], meta: { zone: 'b' } });
      const stored = JSON.parse((await kv.get(registered.key).string())!);
      if (format === 'grpc-go') {
        assert.equal(registered.key, 'ours-grpc-go/127.0.0.1:7000');
        assert.deepEqual(stored, { Op: 0, Addr: '127.0.0.1:7000', Metadata: { blue: '', zone: 'b', weight: '3' } });
      } else {
        assert.equal(registered.key, 'kitex/registry-etcd/ours-kitex/127.0.0.1:7000');
        assert.deepEqual(stored, { network: 'tcp', address: '127.0.0.1:7000', weight: 3, tags: { blue: '', zone: 'b' } });
      }
      const watch = recordWatch(etcdResolver({ hosts: etcd.hosts, format }), `ours-${format}`);
      const list = (await watch.waitForUpdate((l) => l.length === 1)).instances;
      assert.deepEqual({ ...list[0], id: undefined }, { address: '127.0.0.1:7000', weight: 3, tags: { blue: '', zone: 'b' }, id: undefined });
      watch.stop();
      await registry.deregister();
      assert.equal(await kv.get(registered.key).string(), null, 'deregistering removes the key');
    }
  });

  test('a watch cut off resumes from the last revision it saw: changes made meanwhile arrive, with no full read', async () => {
    const relay = await startRelay(etcd.members[0].clientAddress);
    await kv.put('/services/resumed/10.6.0.1:1').value(JSON.stringify({ address: '10.6.0.1:1' }));
    const watch = recordWatch(etcdResolver({ hosts: relay.address }), 'resumed');
    try {
      await watch.waitForUpdate((list) => list.length === 1, { since: 0 });
      const since = Date.now();
      relay.cut();
      await watch.waitForError((e) => /watch of "resumed".*lost, resuming after revision \d+/.test(e.message), { since });
      await kv.put('/services/resumed/10.6.0.2:1').value(JSON.stringify({ address: '10.6.0.2:1' }));
      await kv.delete().key('/services/resumed/10.6.0.1:1');
      relay.restore();
      await watch.waitForUpdate((list) => addresses(list).join() === '10.6.0.2:1', { since });
      assert.ok(!watch.errors.some((e) => /reading it again|came back/.test(e.error.message)), 'resumed, not re-read');
      // Both changes came as events of the resumed watch: the list never held both new and old.
      assert.ok(watch.updates.filter((u) => u.at >= since).every((u) => u.instances.length === 1), JSON.stringify(watch.updates.map((u) => addresses(u.instances))));
    } finally {
      watch.stop();
      relay.close();
    }
  });

  test('a watch cut off while its revision is compacted reads the list again, and follows changes after', async () => {
    // The resolver reaches etcd through a TCP relay the test can cut: a partition, with etcd
    // itself still up for the changes and the compaction that happen meanwhile.
    const relay = await startRelay(etcd.members[0].clientAddress);
    await kv.put('/services/compacted/10.3.0.1:1').value(JSON.stringify({ address: '10.3.0.1:1' }));
    const watch = recordWatch(etcdResolver({ hosts: relay.address, backoff: { initialMs: 50, maxMs: 200 } }), 'compacted');
    try {
      await watch.waitForUpdate((list) => list.length === 1, { since: 0 });
      const since = Date.now();
      relay.cut();
      await watch.waitForError((e) => /watch of "compacted".*lost/.test(e.message), { since });
      await kv.put('/services/compacted/10.3.0.2:1').value(JSON.stringify({ address: '10.3.0.2:1' }));
      const put = await kv.put('/services/compacted/10.3.0.3:1').value(JSON.stringify({ address: '10.3.0.3:1' })).exec();
      await kv.kv.compact({ revision: put.header.revision, physical: true });
      relay.restore();
      await watch.waitForError((e) => /cancelled; reading it again/.test(e.message), { since });
      await watch.waitForUpdate((list) => list.length === 3, { since });
      await kv.delete().key('/services/compacted/10.3.0.1:1');
      await watch.waitForUpdate((list) => addresses(list).join() === '10.3.0.2:1,10.3.0.3:1', { since });
    } finally {
      watch.stop();
      relay.close();
    }
  });
});

/** A TCP relay to `target` whose connections can be cut (and refused) until restored. */
async function startRelay(target: string) {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const sockets = new Set<Socket>();
  let open = true;
  const server = createServer((client) => {
    if (!open) return client.destroy();
    const upstream = connect(port, host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    cut() {
      open = false;
      for (const s of sockets) s.destroy();
    },
    restore() {
      open = true;
    },
    close() {
      this.cut();
      server.close();
    },
  };
}

describe('etcd with authentication and TLS', () => {
  let etcd: EtcdCluster;
  let dir: string;
  let ca: Buffer;
  const password = 'S3cr3t-pa55word';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lbkit-etcd-tls-'));
    const pems = await generate([{ name: 'commonName', value: 'etcd.internal.test' }], {
      keyType: 'ec',
      extensions: [
        { name: 'basicConstraints', cA: true },
        { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 2, value: 'etcd.internal.test' }, { type: 7, ip: '127.0.0.1' }] },
      ],
    });
    ca = Buffer.from(pems.cert);
    writeFileSync(join(dir, 'cert.pem'), pems.cert);
    writeFileSync(join(dir, 'key.pem'), pems.private);
    etcd = await startEtcd({ tls: { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') } });
    const admin = new Etcd3({ hosts: `https://${etcd.hosts}`, credentials: { rootCertificate: ca } });
    await admin.put('/services/secure/10.4.0.1:443').value(JSON.stringify({ address: '10.4.0.1:443' }));
    await admin.role('root').create();
    await admin.user('root').create(password);
    await admin.user('root').addRole('root');
    await admin.auth.authEnable({});
    admin.close();
  });
  after(async () => {
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('user, password and a private CA: resolves, and the registry writes under auth', async () => {
    const options = { hosts: etcd.hosts, tls: { ca }, auth: { username: 'root', password } };
    const registry = etcdRegistry({ ...options, leaseTtlMs: 5_000 });
    await registry.register({ name: 'secure', address: '127.0.0.1', port: 8443 });
    const watch = recordWatch(etcdResolver(options), 'secure');
    try {
      await watch.waitForUpdate((list) => addresses(list).join() === '10.4.0.1:443,127.0.0.1:8443');
    } finally {
      watch.stop();
      await registry.deregister();
    }
  });

  test('a wrong password gives a clear error that never contains the password', async () => {
    const wrong = 'wr0ng-pa55word-XYZ';
    const messages: string[] = [];
    const watch = recordWatch(etcdResolver({ hosts: etcd.hosts, tls: { ca }, auth: { username: 'root', password: wrong } }), 'secure');
    try {
      const { error } = await watch.waitForError(() => true, { since: 0 });
      messages.push(error.message, String(error.stack));
      assert.match(error.message, /etcdResolver: reading "secure" \(etcd 127\.0\.0\.1:\d+, keys "\/services\/secure\/"\) at 127\.0\.0\.1:\d+: .*authentication failed/);
    } finally {
      watch.stop();
    }
    const registry = etcdRegistry({ hosts: etcd.hosts, tls: { ca }, auth: { username: 'root', password: wrong } });
    await assert.rejects(registry.register({ name: 'secure', address: '127.0.0.1', port: 1 }), (error: Error) => {
      messages.push(error.message, String(error.stack));
      return /authentication failed/.test(error.message);
    });
    for (const text of messages) assert.ok(!text.includes(wrong), `the password leaked: ${text}`);
  });

  test('without the CA the TLS handshake fails and says so, without hanging', async () => {
    const watch = recordWatch(etcdResolver({ hosts: etcd.hosts, tls: true, auth: { username: 'root', password }, requestTimeoutMs: 2_000 }), 'secure');
    try {
      const { error } = await watch.waitForError(() => true, { since: 0 });
      assert.match(error.message, /etcdResolver: reading "secure"/);
      assert.ok(!error.message.includes(password));
    } finally {
      watch.stop();
    }
  });
});
