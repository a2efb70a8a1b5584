import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseTarget, registerResolverScheme, memoryResolver } from '../../../src';
import { resolveTarget } from '../../../src/resolver/target';
import { formatAddress, parseAddress } from '../../../src/discovery/address';

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
    assert.throws(() => parseTarget('static://a:1'), /not of the form scheme:\/\/\[authority\]\/name/);
    assert.throws(() => parseTarget(''), /non-empty string/);
    assert.throws(() => parseTarget('memory:///%E0%A4%A'), /malformed percent-encoding/);
    assert.throws(() => parseTarget('host:0'), /not a valid dns target: expected host:port/);
    assert.throws(() => parseTarget('ho st:1'), /not a valid dns target/);
    assert.throws(() => parseTarget('unix:/tmp/grpc.sock'), /unix: sockets are not supported/);
  });

  test('every target form grpc-js accepts', () => {
    const forms: [string, string, string, string][] = [
      // target, scheme, authority, path
      ['127.0.0.1:50051', 'dns', '', '127.0.0.1:50051'],
      ['user.example.com:50051', 'dns', '', 'user.example.com:50051'],
      ['localhost', 'dns', '', 'localhost:443'],
      ['[::1]:50051', 'dns', '', '[::1]:50051'],
      ['dns:user.example.com:50051', 'dns', '', 'user.example.com:50051'],
      ['dns:///user.example.com:50051', 'dns', '', 'user.example.com:50051'],
      ['dns://8.8.8.8:53/user.example.com:50051', 'dns', '8.8.8.8:53', 'user.example.com:50051'],
      ['dns:///user.example.com', 'dns', '', 'user.example.com:443'],
      ['dns:///_grpc._tcp.user.example.com', 'dns', '', '_grpc._tcp.user.example.com'],
      ['ipv4:10.0.0.1:50051,10.0.0.2:50051', 'static', '', '10.0.0.1:50051,10.0.0.2:50051'],
      ['ipv4:10.0.0.1', 'static', '', '10.0.0.1:443'],
      ['ipv6:[::1]:50051,[2001:db8::1]:50052', 'static', '', '[::1]:50051,[2001:db8::1]:50052'],
      ['ipv6:::1', 'static', '', '[::1]:443'],
      ['static:10.0.0.1:50051', 'static', '', '10.0.0.1:50051'],
      ['memory:user-service', 'memory', '', 'user-service'],
    ];
    for (const [text, scheme, authority, path] of forms) {
      const t = parseTarget(text);
      assert.deepEqual([t.scheme, t.authority, t.path], [scheme, authority, path], text);
      assert.equal(t.text, text);
    }
    assert.throws(() => parseTarget('ipv4:::1'), /"::1" is not an IPv4 address/);
    assert.throws(() => parseTarget('ipv6:10.0.0.1:1'), /is not an IPv6 address/);
    assert.throws(() => parseTarget('ipv4:10.0.0.1:1,'), /no empty entry/);
    assert.throws(() => registerResolverScheme('ipv4', () => ({ resolver: memoryResolver(), service: '' })), /grpc-js's own target form/);
  });

  test('input of any type or size gives a bounded, escaped message', () => {
    assert.throws(() => parseTarget(5n as unknown as string), (e: Error) => e instanceof TypeError && /got 5n \(a bigint\)/.test(e.message));
    assert.throws(() => parseTarget({} as unknown as string), /got an object/);
    const huge = `${'x'.repeat(1_000_000)}:1:2`;
    assert.throws(() => parseTarget(huge), (e: Error) => e.message.length < 400 && /\(1000004 chars\)/.test(e.message));
    assert.throws(() => parseTarget('a\r\nforged: line:1'), (e: Error) => !/[\r\n]/.test(e.message) && e.message.includes('\\r\\n'));
    const secret = parseTarget('consul://127.0.0.1:8500/svc?tag=v1&token=S3CRET');
    assert.ok(!secret.text.includes('S3CRET'), secret.text);
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
