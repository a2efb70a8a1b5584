import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';
import { consulHealthToInstances, consulResolver, ConsulError } from '../../../src/resolver/consul';
import { parseTarget, resolveTarget } from '../../../src/resolver/target';
import type { Instance, Resolver } from '../../../src/resolver/types';
import { recordWatch } from '../../helpers/consul-agent';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One health entry as Consul's /v1/health/service answers it. */
function entry(service: Record<string, unknown>, options: { nodeAddress?: string; checks?: string[] } = {}) {
  return {
    Node: { Node: 'n1', Address: options.nodeAddress ?? '10.0.0.1', Datacenter: 'dc1' },
    Service: { ID: 'svc-1', Service: 'svc', Tags: [], Meta: null, Port: 50051, Address: '', Weights: { Passing: 1, Warning: 1 }, ...service },
    Checks: (options.checks ?? ['passing']).map((status, i) => ({ CheckID: `c${i}`, Status: status })),
  };
}

interface Seen {
  url: URL;
  headers: http.IncomingHttpHeaders;
  at: number;
  closedAt?: number;
}

/** An HTTP server answering like Consul would, as each test scripts it. */
async function scripted(handler: (req: http.IncomingMessage, res: http.ServerResponse, seen: Seen) => void) {
  const requests: Seen[] = [];
  const server = http.createServer((req, res) => {
    const seen: Seen = { url: new URL(req.url ?? '/', 'http://x'), headers: req.headers, at: Date.now() };
    requests.push(seen);
    res.on('close', () => (seen.closedAt = Date.now()));
    handler(req, res, seen);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    address,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function answer(res: http.ServerResponse, index: number, body: unknown, status = 200) {
  res.writeHead(status, { 'content-type': 'application/json', 'x-consul-index': String(index) });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

describe('consulHealthToInstances', () => {
  test('maps address, port, weight, tags and meta; node address when the service has none', () => {
    const { instances, problems } = consulHealthToInstances(
      [
        entry({ ID: 'a', Address: '10.0.0.7', Port: 7000, Tags: ['v1', 'canary'], Meta: { zone: 'east', v1: 'meta-wins' }, Weights: { Passing: 5, Warning: 1 } }),
        entry({ ID: 'b', Address: '', Port: 7001 }, { nodeAddress: '10.0.0.9' }),
        entry({ ID: 'c', Address: '::1', Port: 7002 }),
        entry({ ID: 'd', Address: '[fe80::2]', Port: 7003 }),
      ],
      true,
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(instances, [
      { address: '10.0.0.7:7000', weight: 5, tags: { v1: 'meta-wins', canary: '', zone: 'east' }, id: 'a' },
      { address: '10.0.0.9:7001', weight: 1, tags: {}, id: 'b' },
      { address: '[::1]:7002', weight: 1, tags: {}, id: 'c' },
      { address: '[fe80::2]:7003', weight: 1, tags: {}, id: 'd' },
    ]);
  });

  test('passing only by default; warning instances with Weights.Warning when admitted; critical never', () => {
    const entries = [
      entry({ ID: 'ok', Address: '10.0.0.1', Weights: { Passing: 10, Warning: 2 } }),
      entry({ ID: 'warn', Address: '10.0.0.2', Weights: { Passing: 10, Warning: 3 } }, { checks: ['passing', 'warning'] }),
      entry({ ID: 'crit', Address: '10.0.0.3' }, { checks: ['warning', 'critical'] }),
      entry({ ID: 'maint', Address: '10.0.0.4' }, { checks: ['maintenance'] }),
      entry({ ID: 'nowarn', Address: '10.0.0.5', Weights: { Passing: 4, Warning: 0 } }, { checks: ['warning'] }),
    ];
    assert.deepEqual(
      consulHealthToInstances(entries, true).instances.map((i) => [i.id, i.weight]),
      [['ok', 10]],
    );
    assert.deepEqual(
      consulHealthToInstances(entries, false).instances.map((i) => [i.id, i.weight]),
      [
        ['ok', 10],
        ['warn', 3],
      ],
    );
  });

  test('skips unusable instances and names them; rejects an answer that is not a list', () => {
    const { instances, problems } = consulHealthToInstances(
      [entry({ ID: 'noport', Port: 0, Address: '10.0.0.1' }), entry({ ID: 'noaddr', Address: '' }, { nodeAddress: '' }), { Node: {} }, entry({ ID: 'good', Address: '10.0.0.2' })],
      true,
    );
    assert.deepEqual(instances.map((i) => i.id), ['good']);
    assert.equal(problems.length, 3);
    assert.match(problems.join('|'), /"noport" has port 0/);
    assert.match(problems.join('|'), /"noaddr" has no address/);
    assert.throws(() => consulHealthToInstances({ not: 'a list' }, true), /JSON array/);
  });
});

describe('consulResolver options', () => {
  test('bad options throw a TypeError naming the field', () => {
    assert.throws(() => consulResolver({ address: '' }), { name: 'TypeError', message: /address/ });
    assert.throws(() => consulResolver({ address: 'ftp://x:1' }), /scheme must be http or https/);
    assert.throws(() => consulResolver({ address: 'http://user:pw@x:8500' }), (error: Error) => /credentials/.test(error.message) && !error.message.includes('pw'));
    assert.throws(() => consulResolver({ address: 'x:99999' }), /port/);
    assert.throws(() => consulResolver({ tags: 'v1' as unknown as string[] }), /tags must be an array/);
    assert.throws(() => consulResolver({ tags: ['v1', ''] }), /tags\[1\]/);
    assert.throws(() => consulResolver({ dc: '' }), /dc/);
    assert.throws(() => consulResolver({ stale: 'yes' as unknown as boolean }), /stale must be a boolean/);
    assert.throws(() => consulResolver({ waitMs: -1 }), /waitMs/);
    assert.throws(() => consulResolver({ backoff: { initialMs: 100, maxMs: 10 } }), /backoff.maxMs/);
    assert.throws(() => consulResolver({ tls: { cert: 'x' } }), /tls.cert and tls.key/);
    assert.throws(
      () => consulResolver({ token: 'line1\nline2-secret' }),
      (error: Error) => /token/.test(error.message) && !error.message.includes('secret'),
    );
  });

  test('a consul:// target with a token is refused without repeating it', () => {
    for (const text of ['consul://127.0.0.1:8500/svc?token=s3cr3t-value', 'consul://s3cr3t-value@127.0.0.1:8500/svc']) {
      assert.throws(
        () => resolveTarget(parseTarget(text)),
        (error: Error) => error instanceof TypeError && /CONSUL_HTTP_TOKEN/.test(error.message) && !error.message.includes('s3cr3t'),
      );
    }
  });

  test('a consul:// target with an unknown or malformed parameter is refused, naming it', () => {
    assert.throws(() => resolveTarget(parseTarget('consul://127.0.0.1:8500/svc?tags=v1')), /unknown parameter "tags"/);
    assert.throws(() => resolveTarget(parseTarget('consul://127.0.0.1:8500/svc?stale=maybe')), /stale="maybe" is not a boolean/);
    assert.throws(() => resolveTarget(parseTarget('consul://127.0.0.1:8500/svc?dc=a&dc=b')), /"dc" given 2 times/);
    assert.throws(() => resolveTarget(parseTarget('consul://127.0.0.1:8500/')), /must name one service/);
  });
});

describe('consulResolver against a scripted Consul', () => {
  const resolvers: (() => void)[] = [];
  after(() => resolvers.forEach((stop) => stop()));

  test('a consul:// target carries its parameters into the query; the token goes in a header only', async () => {
    const token = 'tok-7d1e5b2c';
    const previous = process.env.CONSUL_HTTP_TOKEN;
    process.env.CONSUL_HTTP_TOKEN = token;
    const server = await scripted((req, res, seen) => {
      if (seen.url.searchParams.has('index')) return; // hold the blocking query
      answer(res, 3, [entry({ ID: 'a', Address: '10.0.0.1' })]);
    });
    try {
      const target = `consul://${server.address}/user-service?tag=v1&tag=canary&dc=dc1&near=_agent&filter=${encodeURIComponent('Service.Meta.zone == "a"')}&passing=false`;
      const resolved = resolveTarget(parseTarget(target));
      assert.equal(resolved.service, 'user-service');
      const record = recordWatch(resolved.resolver, resolved.service);
      resolvers.push(record.stop);
      await record.waitForUpdate((list) => list.length === 1, { since: 0 });
      const first = server.requests[0];
      assert.equal(first.url.pathname, '/v1/health/service/user-service');
      assert.deepEqual(first.url.searchParams.getAll('tag'), ['v1', 'canary']);
      assert.equal(first.url.searchParams.get('dc'), 'dc1');
      assert.equal(first.url.searchParams.get('near'), '_agent');
      assert.equal(first.url.searchParams.get('filter'), 'Service.Meta.zone == "a"');
      assert.equal(first.url.searchParams.has('passing'), false, 'passing=false admits warning instances');
      assert.equal(first.url.searchParams.has('stale'), true, 'stale reads are the default');
      await sleep(50);
      const blocking = server.requests[1];
      assert.equal(blocking.url.searchParams.get('index'), '3');
      assert.equal(blocking.url.searchParams.get('wait'), '55000ms');
      for (const request of server.requests) {
        assert.equal(request.headers['x-consul-token'], token);
        assert.ok(!request.url.href.includes(token), 'token must never be in a URL');
      }
      record.stop();
    } finally {
      if (previous === undefined) delete process.env.CONSUL_HTTP_TOKEN;
      else process.env.CONSUL_HTTP_TOKEN = previous;
      await server.close();
    }
  });

  test('an error body that echoes the token is redacted in the reported error', async () => {
    const token = 'tok-echoed-9f8e';
    const server = await scripted((req, res) => {
      res.writeHead(403, { 'content-type': 'text/plain' });
      res.end(`ACL not found for token ${req.headers['x-consul-token']}`);
    });
    try {
      const record = recordWatch(consulResolver({ address: server.address, token }), 'svc');
      const { error } = await record.waitForError(undefined, { since: 0 });
      record.stop();
      assert.ok(error instanceof ConsulError);
      assert.equal(error.status, 403);
      assert.match(error.message, /HTTP 403: ACL not found for token \[redacted\]/);
      assert.ok(!error.message.includes(token));
      assert.ok(!String(error.stack).includes(token));
    } finally {
      await server.close();
    }
  });

  test('an empty answer is reported as an error, never delivered as an empty list', async () => {
    let calls = 0;
    const server = await scripted((req, res, seen) => {
      calls++;
      if (calls === 1) return answer(res, 5, [entry({ ID: 'a', Address: '10.0.0.1' })]);
      if (calls === 2) return answer(res, 6, []);
      if (seen.url.searchParams.get('index') === '6') return; // hold
      answer(res, 6, []);
    });
    try {
      const record = recordWatch(consulResolver({ address: server.address }), 'svc');
      await record.waitForError((e) => /no passing instances of "svc"/.test(e.message), { since: 0 });
      record.stop();
      assert.equal(record.updates.length, 1);
      assert.equal(record.updates[0].instances.length, 1);
    } finally {
      await server.close();
    }
  });

  test('answers that bring no new index are rate-limited, not spun', async () => {
    const server = await scripted((req, res) => answer(res, 5, [entry({ ID: 'a', Address: '10.0.0.1' })]));
    try {
      const record = recordWatch(consulResolver({ address: server.address, minQuietIntervalMs: 200 }), 'svc');
      await sleep(1_000);
      record.stop();
      // Without the limit this would be thousands; with it, one immediate read, then one per 200 ms.
      assert.ok(server.requests.length >= 3 && server.requests.length <= 8, `${server.requests.length} requests in 1 s`);
      assert.equal(record.updates.length, 1, 'an unchanged list is not delivered again');
    } finally {
      await server.close();
    }
  });

  test('an index that goes backwards restarts from a non-blocking read', async () => {
    const indexes = [10, 3, 4];
    const server = await scripted((req, res, seen) => {
      const next = indexes.shift();
      if (next === undefined) return; // hold
      answer(res, next, [entry({ ID: `i${next}`, Address: `10.0.0.${next}` })]);
      void seen;
    });
    try {
      const record = recordWatch(consulResolver({ address: server.address, minQuietIntervalMs: 20 }), 'svc');
      await record.waitForUpdate((list) => list[0]?.id === 'i4', { since: 0 });
      await sleep(30);
      record.stop();
      const sent = server.requests.map((r) => r.url.searchParams.get('index'));
      // 0 → 10; blocking on 10 answers 3 (backwards) → reset: no index; → 4; then blocking on 4.
      assert.deepEqual(sent, [null, '10', null, '4']);
    } finally {
      await server.close();
    }
  });

  test('errors back off with jitter, are each reported, and the watch recovers by itself', async () => {
    let calls = 0;
    const server = await scripted((req, res, seen) => {
      calls++;
      if (calls === 1) return answer(res, 1, 'this is not json');
      if (calls === 2) {
        res.writeHead(200, { 'content-type': 'application/json' }); // no X-Consul-Index
        return res.end('[]');
      }
      if (calls === 3) return answer(res, 1, 'rpc error: No cluster leader', 500);
      if (seen.url.searchParams.has('index')) return; // hold
      answer(res, 7, [entry({ ID: 'back', Address: '10.0.0.7' })]);
    });
    try {
      const jitter: number[] = [];
      const record = recordWatch(
        consulResolver({ address: server.address, backoff: { initialMs: 40, maxMs: 1_000 }, random: () => (jitter.push(1), 0.5) }),
        'svc',
      );
      const { at } = await record.waitForUpdate((list) => list[0]?.id === 'back', { since: 0 });
      record.stop();
      const messages = record.errors.map((e) => e.error.message);
      assert.equal(messages.length, 3);
      assert.match(messages[0], /not JSON/);
      assert.match(messages[1], /X-Consul-Index/);
      assert.match(messages[2], /HTTP 500: rpc error: No cluster leader/);
      assert.equal(jitter.length, 3, 'every backoff delay is jittered');
      // Delays 40, 80, 160 ms at jitter 0.5 → 30 + 60 + 120 = 210 ms before the fourth request.
      const gaps = server.requests.slice(1, 4).map((r, i) => r.at - server.requests[i].at);
      assert.ok(gaps[0] >= 25 && gaps[1] >= 55 && gaps[2] >= 115, `gaps ${gaps.join(', ')} ms`);
      assert.ok(at - server.requests[0].at < 1_000);
    } finally {
      await server.close();
    }
  });

  test('stop ends the loop and aborts the in-flight blocking request', async () => {
    const server = await scripted((req, res, seen) => {
      if (seen.url.searchParams.has('index')) return; // hold until the client goes away
      answer(res, 2, [entry({ ID: 'a', Address: '10.0.0.1' })]);
    });
    try {
      const record = recordWatch(consulResolver({ address: server.address }), 'svc');
      await record.waitForUpdate((list) => list.length === 1, { since: 0 });
      await sleep(50);
      assert.equal(server.requests.length, 2);
      const stoppedAt = Date.now();
      record.stop();
      await sleep(100);
      const blocking = server.requests[1];
      assert.ok(blocking.closedAt !== undefined && blocking.closedAt - stoppedAt < 100, 'the blocking request was aborted at once');
      assert.equal(server.requests.length, 2, 'no request after stop');
      assert.equal(record.errors.length, 0, 'stopping is not an error');
      const sockets = process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
      assert.equal(sockets, 0, 'no socket left open');
    } finally {
      await server.close();
    }
  });

  test('a listener that throws does not end the watch', async () => {
    let calls = 0;
    const server = await scripted((req, res) => {
      calls++;
      if (calls <= 2) return answer(res, calls + 1, [entry({ ID: `v${calls}`, Address: `10.0.0.${calls}` })]);
      // hold
    });
    try {
      const seen: Instance[][] = [];
      const errors: Error[] = [];
      const stop = consulResolver({ address: server.address }).watch('svc', {
        onUpdate(list) {
          seen.push(list);
          throw new Error('listener bug');
        },
        onError: (e) => errors.push(e),
      });
      await sleep(200);
      stop();
      assert.deepEqual(seen.map((l) => l[0].id), ['v1', 'v2']);
      assert.deepEqual(errors.map((e) => e.message), ['listener bug', 'listener bug']);
    } finally {
      await server.close();
    }
  });

  test('a bad service name is reported to the listener, not thrown', async () => {
    const resolver: Resolver = consulResolver({ address: '127.0.0.1:1' });
    const record = recordWatch(resolver, '');
    const { error } = await record.waitForError(undefined, { since: 0 });
    record.stop();
    assert.match(error.message, /service name must be a non-empty string/);
  });
});

describe('consulResolver over HTTPS', () => {
  let server: https.Server;
  let address: string;
  let ca: string;

  before(async () => {
    const pems = await generate([{ name: 'commonName', value: 'consul.test' }], {
      keySize: 2048,
      algorithm: 'sha256',
      extensions: [
        { name: 'basicConstraints', cA: true },
        { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
      ],
    });
    ca = pems.cert;
    server = https.createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
      if (new URL(req.url ?? '/', 'https://x').searchParams.has('index')) return;
      answer(res, 2, [entry({ ID: 'tls', Address: '10.0.0.1' })]);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  test('trusts the given CA', async () => {
    const record = recordWatch(consulResolver({ address: `https://${address}`, tls: { ca } }), 'svc');
    const { instances } = await record.waitForUpdate((list) => list.length === 1, { since: 0 });
    record.stop();
    assert.equal(instances[0].id, 'tls');
  });

  test('refuses an agent whose certificate it cannot verify', async () => {
    const record = recordWatch(consulResolver({ address, tls: true }), 'svc');
    const { error } = await record.waitForError(undefined, { since: 0 });
    record.stop();
    assert.match(error.message, /^consul GET \/v1\/health\/service\/svc at https:\/\/127\.0\.0\.1:\d+: .*(self[- ]signed|certificate)/i);
    assert.equal(record.updates.length, 0);
  });
});

describe('consulResolver bounds and secrets', () => {
  test('durations a Node timer cannot honour are refused, naming the option and the limit', () => {
    assert.throws(() => consulResolver({ waitMs: 2 ** 31 }), (error: Error) => /waitMs/.test(error.message) && /600000/.test(error.message));
    assert.throws(() => consulResolver({ minQuietIntervalMs: 2 ** 31 }), (error: Error) => /minQuietIntervalMs/.test(error.message) && /2147483647/.test(error.message));
    assert.throws(() => consulResolver({ backoff: { maxMs: 2 ** 40 } }), /backoff.maxMs/);
    assert.throws(() => consulResolver({ requestTimeoutMs: 2 ** 31 }), /requestTimeoutMs/);
  });

  test('an index that advances on every answer with the same content does not make the watch spin', async () => {
    let index = 1;
    const server = await scripted((req, res) => answer(res, ++index, [entry({ ID: 'a', Address: '10.0.0.1' })]));
    try {
      const record = recordWatch(consulResolver({ address: server.address }), 'svc');
      await sleep(1_000);
      record.stop();
      // Unspaced, a loopback server answers hundreds of times a second; spaced, ten at most.
      assert.ok(server.requests.length <= 13, `${server.requests.length} requests in 1 s`);
      assert.equal(record.updates.length, 1);
    } finally {
      await server.close();
    }
  });

  test('content that changes on every answer is spaced too', async () => {
    let index = 1;
    const server = await scripted((req, res) => {
      index++;
      answer(res, index, [entry({ ID: `i${index}`, Address: '10.0.0.1' })]);
    });
    try {
      const record = recordWatch(consulResolver({ address: server.address }), 'svc');
      await sleep(1_000);
      record.stop();
      assert.ok(server.requests.length >= 4 && server.requests.length <= 13, `${server.requests.length} requests in 1 s`);
      assert.ok(record.updates.length >= 4, 'every change is delivered');
    } finally {
      await server.close();
    }
  });

  test('an ACL token in a target, in any spelling, is refused and never quoted', () => {
    const secret = 'S3cr3tT0k3n';
    const targets = [
      `consul://127.0.0.1:8500/svc?token=${secret}#frag`,
      `consul://127.0.0.1:8500/sec%ZZecho?token=${secret}`,
      `consul://127.0.0.1:8500/svc?TOKEN=${secret}`,
      `consul://127.0.0.1:8500/svc?x-consul-token=${secret}`,
      `consul://127.0.0.1:8500/svc?%74oken=${secret}`,
      `consul://127.0.0.1:8500/svc?dc=a&Token=${secret}`,
    ];
    for (const target of targets) {
      assert.throws(
        () => resolveTarget(parseTarget(target)),
        (error: Error) => !error.message.includes(secret) && !String(error.stack).includes(secret),
        target,
      );
    }
  });

  test('a token in an address, or in a malformed one, never reaches the message', () => {
    const secret = 'S3cr3tT0k3n';
    for (const address of [`http://127.0.0.1:8500/?token=${secret}`, `http://127.0.0.1:8500/x?X-Consul-Token=${secret}`, `127.0.0.1:8500?TOKEN=${secret}`, `${secret}@127.0.0.1:8500`]) {
      assert.throws(() => consulResolver({ address }), (error: Error) => !error.message.includes(secret), address);
    }
  });

  test('a token echoed back by the agent in any answer never reaches a reported error', async () => {
    const token = 'tok-echo-4242';
    const server = await scripted((req, res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(`{"error":"bad token ${token}","raw":"${encodeURIComponent(token)}"}`);
    });
    try {
      const record = recordWatch(consulResolver({ address: server.address, token }), 'svc');
      const { error } = await record.waitForError(undefined, { since: 0 });
      record.stop();
      assert.ok(!error.message.includes(token), error.message);
    } finally {
      await server.close();
    }
  });

  test('a user-supplied Consul client is used as it is: its token in the header, never in a message', async () => {
    const token = 'tok-own-client-77';
    const server = await scripted((req, res, seen) => {
      if (seen.url.searchParams.has('index')) return; // hold
      if (req.headers['x-consul-token'] !== token) {
        res.writeHead(403, { 'content-type': 'text/plain' });
        return res.end(`ACL not found: ${req.headers['x-consul-token']}`);
      }
      answer(res, 4, [entry({ ID: 'own', Address: '10.0.0.4' })]);
    });
    const Consul = (await import('consul')).default;
    const [host, port] = server.address.split(':');
    const consul = new Consul({ host, port: Number(port), defaults: { token } });
    try {
      const record = recordWatch(consulResolver({ consul }), 'svc');
      const { instances } = await record.waitForUpdate((list) => list.length === 1, { since: 0 });
      assert.equal(instances[0].id, 'own');
      await sleep(50);
      assert.equal(server.requests.length, 2, 'a blocking query is open');
      record.stop();
      await sleep(50);
      assert.equal(server.requests[1]?.closedAt !== undefined, true, 'stop aborts the blocking query of a user client too');
      assert.throws(() => consulResolver({ consul, address: '127.0.0.1:8500' }), /either consul/);
    } finally {
      consul.destroy();
      await server.close();
    }
  });

  test('an answer larger than the bound is cut off and reported', async () => {
    const server = await scripted((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-consul-index': '2' });
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      let sent = 0;
      const pump = () => {
        while (sent < 40 && res.write(chunk)) sent++;
        if (sent < 40) res.once('drain', pump);
        else res.end('[]');
      };
      pump();
    });
    try {
      const record = recordWatch(consulResolver({ address: server.address }), 'svc');
      const { error } = await record.waitForError(undefined, { since: 0 });
      record.stop();
      assert.match(error.message, /larger than/);
    } finally {
      await server.close();
    }
  });
});
