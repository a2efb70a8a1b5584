import { describe, test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { backoffDelay } from '../../../src/core/backoff';
import { etcdRegistry } from '../../../src/registry/etcd';
import { etcdResolver } from '../../../src/resolver/etcd';
import { etcdLayout } from '../../../src/discovery/etcd-format';
import { parseTarget, resolveTarget } from '../../../src/resolver/target';

describe('etcd key layouts', () => {
  test('each layout decodes what it encodes, and places the key where that ecosystem looks', () => {
    const record = { address: '[::1]:8080', weight: 5, tags: ['canary'], meta: { zone: 'b' } };
    const expectedKeys = { 'grpc-lb-kit': '/services/cart/[::1]:8080', 'grpc-go': 'cart/[::1]:8080', kitex: 'kitex/registry-etcd/cart/[::1]:8080' };
    for (const format of ['grpc-lb-kit', 'grpc-go', 'kitex'] as const) {
      const layout = etcdLayout(format);
      const key = layout.key('cart', record.address);
      assert.equal(key, expectedKeys[format]);
      assert.ok(key.startsWith(layout.servicePrefix('cart')));
      assert.deepEqual(layout.decode('cart', key, layout.encode(record)), { address: '[::1]:8080', weight: 5, tags: { canary: '', zone: 'b' }, id: key });
    }
  });

  test('a custom prefix replaces the default root', () => {
    assert.equal(etcdLayout('grpc-lb-kit', '/prod/').key('users', '10.0.0.1:1'), '/prod/users/10.0.0.1:1');
  });

  test('values that are not instances: skipped without a problem, or reported with the key named', () => {
    const own = etcdLayout('grpc-lb-kit');
    assert.equal(own.decode('s', '/services/s/a:1', JSON.stringify({ address: 'a:1', weight: 0 })), undefined, 'weight 0: out of rotation');
    assert.equal(own.decode('s', '/services/s/v2/a:1', JSON.stringify({ address: 'a:1' })), undefined, 'a nested service');
    assert.match(String(own.decode('s', '/services/s/x', 'nope')), /key "\/services\/s\/x": value is not JSON/);
    assert.match(String(own.decode('s', '/services/s/x', '[1]')), /not a JSON object/);
    assert.match(String(own.decode('s', '/services/s/x', JSON.stringify({ address: 'no-port' }))), /no port/);
    assert.match(String(own.decode('s', '/services/s/x', JSON.stringify({ address: 'a:1', weight: -1 }))), /weight "-1" is not a number > 0/);
    assert.match(String(own.decode('s', '/services/s/x', JSON.stringify({ weight: 1 }))), /no address/);

    const go = etcdLayout('grpc-go');
    assert.equal(go.decode('s', 's/e1', JSON.stringify({ Op: 1, Addr: 'a:1' })), undefined, 'a delete record');
    assert.deepEqual(go.decode('s', 's/deep/e1', JSON.stringify({ Addr: 'a:1', Metadata: 'opaque' })), { address: 'a:1', weight: 1, tags: {}, id: 's/deep/e1' });

    const kitex = etcdLayout('kitex');
    assert.deepEqual(kitex.decode('s', 'kitex/registry-etcd/s/a:1', JSON.stringify({ address: 'a:1' })), { address: 'a:1', weight: 10, tags: {}, id: 'kitex/registry-etcd/s/a:1' });
    assert.match(String(kitex.decode('s', 'kitex/registry-etcd/s/x', JSON.stringify({ network: 'unix', address: '/tmp/s.sock' }))), /network "unix" cannot be dialled/);
  });

  test('a huge value is refused by size, and the message stays short', () => {
    const message = String(etcdLayout().decode('s', '/services/s/x', 'x'.repeat(1_000_000)));
    assert.match(message, /too long/);
    assert.ok(message.length < 300);
  });
});

describe('etcd options and targets', () => {
  test('bad options throw at construction, naming the field, never echoing a password', () => {
    assert.throws(() => etcdResolver({ format: 'zookeeper' as never }), /format must be one of 'grpc-lb-kit', 'grpc-go', 'kitex'/);
    assert.throws(() => etcdResolver({ hosts: [] }), /hosts must be/);
    assert.throws(() => etcdResolver({ hosts: 'ftp://h:1' }), /http:\/\/ or https:\/\//);
    assert.throws(() => etcdResolver({ hosts: 'http://root:pw@h:1' }), (e: Error) => /must not contain credentials/.test(e.message) && !e.message.includes('pw'));
    assert.throws(() => etcdResolver({ auth: { username: 'root', password: '' } }), /auth.password must be a non-empty string/);
    assert.throws(() => etcdResolver({ requestTimeoutMs: 2 ** 31 }), /requestTimeoutMs must be a duration in ms from 1 to 2147483647/);
    assert.throws(() => etcdResolver({ tls: { cert: 'x' } }), /tls.cert and tls.key go together/);
    assert.throws(() => etcdRegistry({ leaseTtlMs: 500 }), /leaseTtlMs must be a duration in ms from 1000/);
    assert.throws(() => etcdResolver({ now: 5 as never }), /now must be a function, got 5/);
    assert.throws(() => etcdRegistry({ now: 'soon' as never }), /now must be a function, got "soon"/);
  });

  test('etcd:// targets: hosts from the authority, options from the query; credentials refused without being echoed', () => {
    const { service } = resolveTarget(parseTarget('etcd://127.0.0.1:2379,127.0.0.1:22379/foo/bar/svc?format=grpc-go&tls=false'));
    assert.equal(service, 'foo/bar/svc');
    assert.equal(resolveTarget(parseTarget('etcd:///user-service')).service, 'user-service');
    assert.throws(() => resolveTarget(parseTarget('etcd:///svc?password=hunter2')), (e: Error) => /must not carry credentials/.test(e.message) && !e.message.includes('hunter2'));
    assert.throws(() => resolveTarget(parseTarget('etcd://root:hunter2@h:1/svc')), (e: Error) => !e.message.includes('hunter2'));
    assert.throws(() => resolveTarget(parseTarget('etcd:///svc?colour=red')), /unknown parameter "colour"/);
    assert.throws(() => resolveTarget(parseTarget('etcd:///svc?tls=maybe')), /tls="maybe" is not a boolean/);
    assert.throws(() => resolveTarget(parseTarget('etcd:///svc?format=zk')), /format must be one of/);
  });

  test('the error backoff doubles up to its cap, jittered between half and all of it', () => {
    const options = { initialMs: 100, maxMs: 1_000 };
    assert.deepEqual([1, 2, 3, 4, 5, 50].map((n) => backoffDelay(n, options, () => 0.999999)).map(Math.round), [100, 200, 400, 800, 1000, 1000]);
    assert.equal(backoffDelay(3, options, () => 0), 200);
  });
});

test('the etcd3 package loads only when an etcd connection is first used', () => {
  const root = join(__dirname, '..', '..', '..');
  const script = `
    const loaded = () => Object.keys(require.cache).some((k) => k.includes('node_modules/etcd3/'));
    const lib = require('./src');
    const resolver = lib.etcdResolver({ hosts: '127.0.0.1:1' });
    lib.resolveTarget(lib.parseTarget('etcd:///svc'));
    const before = loaded();
    const stop = resolver.watch('svc', { onUpdate() {}, onError() {} });
    setImmediate(() => {
      const after = loaded();
      stop();
      console.log(JSON.stringify({ before, after }));
    });
  `;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: root, encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out.trim().split('\n').at(-1)!), { before: false, after: true });
});
