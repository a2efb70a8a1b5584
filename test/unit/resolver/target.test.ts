import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseTarget, registerResolverScheme, memoryResolver } from '../../../src';
import { resolveTarget } from '../../../src/resolver/target';
import { formatAddress, parseAddress } from '../../../src/resolver/address';

describe('target strings', () => {
  test('splits scheme, authority, path and query', () => {
    const t = parseTarget('consul://127.0.0.1:8500/user-service?tag=v1&dc=dc1');
    assert.equal(t.scheme, 'consul');
    assert.equal(t.authority, '127.0.0.1:8500');
    assert.equal(t.path, 'user-service');
    assert.equal(t.query.get('tag'), 'v1');
    assert.equal(t.query.get('dc'), 'dc1');
    const s = parseTarget('static:///10.0.0.1:50051,[::1]:50052');
    assert.equal(s.authority, '');
    assert.equal(s.path, '10.0.0.1:50051,[::1]:50052');
  });

  test('rejects malformed targets naming the problem', () => {
    assert.throws(() => parseTarget('10.0.0.1:50051'), /not of the form scheme:\/\/\[authority\]\/name/);
    assert.throws(() => parseTarget(''), /non-empty string/);
    assert.throws(() => parseTarget('memory:///%E0%A4%A'), /malformed percent-encoding/);
  });

  test('unknown schemes throw naming the scheme and the known ones', () => {
    assert.throws(() => resolveTarget(parseTarget('zk:///svc')), /unknown scheme "zk" \(known: .*memory.*static/);
  });

  test('static targets resolve to their addresses; memory targets to the shared resolver', async () => {
    const { resolver, service } = resolveTarget(parseTarget('static:///10.0.0.1:1, 10.0.0.2:2'));
    const got = await new Promise((resolve) => resolver.watch(service, { onUpdate: resolve, onError: () => undefined }));
    assert.deepEqual(got, [{ address: '10.0.0.1:1' }, { address: '10.0.0.2:2' }]);
    assert.throws(() => resolveTarget(parseTarget('static:///10.0.0.1')), /has no port/);
    assert.throws(() => resolveTarget(parseTarget('static:///')), /lists no addresses/);
  });

  test('users can plug in a scheme', async () => {
    const mem = memoryResolver();
    registerResolverScheme('custom-test', (t) => ({ resolver: mem, service: `custom/${t.path}` }));
    const { service, resolver } = resolveTarget(parseTarget('custom-test:///orders'));
    assert.equal(service, 'custom/orders');
    assert.equal(resolver, mem);
    assert.throws(() => registerResolverScheme('1bad', () => ({ resolver: mem, service: '' })), /resolver scheme must be/);
  });
});

describe('addresses', () => {
  test('parses host:port and bracketed IPv6', () => {
    assert.deepEqual(parseAddress('10.0.0.1:50051'), { host: '10.0.0.1', port: 50051 });
    assert.deepEqual(parseAddress('[::1]:50051'), { host: '::1', port: 50051 });
    assert.deepEqual(parseAddress('user.example.com:443'), { host: 'user.example.com', port: 443 });
    assert.equal(formatAddress('::1', 5), '[::1]:5');
    assert.equal(formatAddress('10.0.0.1', 5), '10.0.0.1:5');
  });

  test('explains bad addresses', () => {
    assert.match((parseAddress('::1:50051') as Error).message, /IPv6 without brackets/);
    assert.match((parseAddress('host:0') as Error).message, /expected 1-65535/);
    assert.match((parseAddress('host:http') as Error).message, /expected 1-65535/);
    assert.match((parseAddress('[zz]:1') as Error).message, /not an IPv6 address/);
    assert.match((parseAddress('host') as Error).message, /has no port/);
  });
});
