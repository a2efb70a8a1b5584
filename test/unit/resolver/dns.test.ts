import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import * as packet from 'dns-packet';
import { dnsResolver, isDnsError, type DnsResolverOptions } from '../../../src/resolver/dns';
import { decodeMessage, encodeQuery } from '../../../src/resolver/dns-transport';
import { parseTarget, resolveTarget } from '../../../src/resolver/target';
import type { Instance } from '../../../src/resolver/types';
import { recordWatch } from '../../helpers/consul-agent';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const A = 1;
const AAAA = 28;
const SRV = 33;
const CNAME = 5;

type Data = string | { priority: number; weight: number; port: number; target: string };
interface Rr {
  name: string;
  type: number;
  ttl: number;
  data: Data;
}
interface Reply {
  rcode?: number;
  truncated?: boolean;
  answers?: Rr[];
  additionals?: Rr[];
  /** Send nothing. */
  drop?: boolean;
  /** Send this instead of a well-formed answer. */
  raw?: (id: number) => Buffer;
  /** Send a datagram with another id first. */
  strayFirst?: boolean;
}

const TYPE_NUMBERS: Record<string, number> = { A, AAAA, SRV, CNAME };

/** What the scripted server needs of a query: its id, name and numeric type. */
function decodeQuery(wire: Buffer): { id: number; name: string; type: number } {
  const decoded = packet.decode(wire);
  const question = decoded.questions![0];
  return { id: decoded.id!, name: question.name, type: TYPE_NUMBERS[question.type] ?? 0 };
}

function encodeName(name: string): Buffer {
  const parts = name
    .replace(/\.$/, '')
    .split('.')
    .filter(Boolean)
    .map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, 'latin1')]));
  return Buffer.concat([...parts, Buffer.from([0])]);
}

function encodeRr(rr: Rr): Buffer {
  let data: Buffer;
  if (rr.type === A) data = Buffer.from((rr.data as string).split('.').map(Number));
  else if (rr.type === AAAA) {
    const [head, tail = ''] = (rr.data as string).split('::');
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = (rr.data as string).includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
    data = Buffer.alloc(16);
    groups.forEach((g, i) => data.writeUInt16BE(parseInt(g, 16), i * 2));
  } else if (rr.type === CNAME) data = encodeName(rr.data as string);
  else {
    const srv = rr.data as { priority: number; weight: number; port: number; target: string };
    const head = Buffer.alloc(6);
    head.writeUInt16BE(srv.priority, 0);
    head.writeUInt16BE(srv.weight, 2);
    head.writeUInt16BE(srv.port, 4);
    data = Buffer.concat([head, encodeName(srv.target)]);
  }
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(rr.type, 0);
  fixed.writeUInt16BE(1, 2);
  fixed.writeUInt32BE(rr.ttl, 4);
  fixed.writeUInt16BE(data.length, 8);
  return Buffer.concat([encodeName(rr.name), fixed, data]);
}

function encodeReply(id: number, name: string, type: number, reply: Reply): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x8180 | (reply.truncated ? 0x0200 : 0) | (reply.rcode ?? 0), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(reply.answers?.length ?? 0, 6);
  header.writeUInt16BE(reply.additionals?.length ?? 0, 10);
  const question = Buffer.concat([encodeName(name), Buffer.from([0, type, 0, 1])]);
  question.writeUInt16BE(type, question.length - 4);
  return Buffer.concat([header, question, ...(reply.answers ?? []).map(encodeRr), ...(reply.additionals ?? []).map(encodeRr)]);
}

interface Asked {
  name: string;
  type: number;
  over: 'udp' | 'tcp';
  at: number;
}

/** A DNS server on loopback (UDP and TCP on one port) answering as each test scripts it. */
async function scriptedDns(answer: (name: string, type: number, over: 'udp' | 'tcp') => Reply) {
  const asked: Asked[] = [];
  for (;;) {
    const udp: UdpSocket = createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    const port = udp.address().port;
    const tcp: Server = createServer();
    const listening = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!listening) {
      udp.close();
      continue;
    }
    const sockets = new Set<Socket>();
    udp.on('message', (packet, from) => {
      const query = decodeQuery(packet);
      const { name, type } = query;
      asked.push({ name, type, over: 'udp', at: Date.now() });
      const reply = answer(name, type, 'udp');
      if (reply.drop) return;
      if (reply.strayFirst) udp.send(encodeReply((query.id + 1) & 0xffff, name, type, reply), from.port, from.address);
      udp.send(reply.raw ? reply.raw(query.id) : encodeReply(query.id, name, type, reply), from.port, from.address);
    });
    tcp.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.once('data', (chunk: Buffer) => {
        const query = decodeQuery(chunk.subarray(2));
        const { name, type } = query;
        asked.push({ name, type, over: 'tcp', at: Date.now() });
        const body = encodeReply(query.id, name, type, answer(name, type, 'tcp'));
        const length = Buffer.alloc(2);
        length.writeUInt16BE(body.length);
        socket.end(Buffer.concat([length, body]));
      });
    });
    return {
      address: `127.0.0.1:${port}`,
      asked,
      close: async () => {
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => udp.close(() => resolve()));
        await new Promise<void>((resolve) => tcp.close(() => resolve()));
      },
    };
  }
}

const servers: { close(): Promise<void> }[] = [];
after(async () => {
  for (const server of servers) await server.close();
});

async function dns(answer: Parameters<typeof scriptedDns>[0]) {
  const server = await scriptedDns(answer);
  servers.push(server);
  return server;
}

const a = (name: string, address: string, ttl = 30): Rr => ({ name, type: A, ttl, data: address });
const srv = (name: string, priority: number, weight: number, port: number, target: string, ttl = 30): Rr => ({
  name,
  type: SRV,
  ttl,
  data: { priority, weight, port, target },
});
const addresses = (list: Instance[]) => list.map((i) => i.address);

function watch(options: DnsResolverOptions, name: string) {
  const resolver = dnsResolver(options);
  const record = recordWatch(resolver, name);
  return { resolver, record };
}

describe('DNS wire format', () => {
  test('queries carry the name, the type and an EDNS0 buffer size', () => {
    const wire = encodeQuery(0x1234, 'echo.service.consul', 'SRV');
    const query = decodeMessage(wire);
    assert.equal(query.id, 0x1234);
    assert.deepEqual(query.question, { name: 'echo.service.consul', type: 'SRV' });
    const additionals = packet.decode(wire).additionals ?? [];
    assert.equal(additionals.length, 1);
    assert.equal(additionals[0].type, 'OPT');
    assert.equal((additionals[0] as { udpPayloadSize?: number }).udpPayloadSize, 4096);
  });

  test('decodes compressed names, SRV data and IPv6 addresses', () => {
    // Answer names point back at the question name (offset 12), as servers compress them.
    const header = Buffer.from([0x00, 0x07, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0]);
    const question = Buffer.concat([encodeName('svc.example'), Buffer.from([0, SRV, 0, 1])]);
    const pointer = Buffer.from([0xc0, 12]);
    const srvData = Buffer.concat([Buffer.from([0, 1, 0, 5, 0x1f, 0x90]), Buffer.from([4]), Buffer.from('host'), Buffer.from([0xc0, 12])]);
    const srvRr = Buffer.concat([pointer, Buffer.from([0, SRV, 0, 1, 0, 0, 0, 9, 0, srvData.length]), srvData]);
    const aaaaRr = Buffer.concat([pointer, Buffer.from([0, AAAA, 0, 1, 0, 0, 0, 5, 0, 16]), Buffer.from('20010db8000000000000000000000001', 'hex')]);
    const message = decodeMessage(Buffer.concat([header, question, srvRr, aaaaRr]));
    assert.deepEqual(message.answers, [
      { name: 'svc.example', type: 'SRV', ttl: 9, data: { priority: 1, weight: 5, port: 8080, target: 'host.svc.example' } },
      { name: 'svc.example', type: 'AAAA', ttl: 5, data: '2001:db8::1' },
    ]);
  });

  test('rejects compression loops and messages that end early', () => {
    const header = Buffer.from([0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0]);
    // A pointer to itself: only pointers to earlier data are followed, so no loop can form.
    assert.throws(() => decodeMessage(Buffer.concat([header, Buffer.from([0xc0, 12])])), /bad pointer/);
    assert.throws(() => decodeMessage(Buffer.concat([header, encodeName('x.y'), Buffer.from([0])])), /overflow|out of range|ends early/);
    assert.throws(() => decodeMessage(Buffer.from([0, 1, 0x81])), /ends early/);
  });
});

describe('dnsResolver against a scripted DNS server', () => {
  test('A and AAAA records become host:port instances; CNAMEs are followed by the server', async () => {
    const server = await dns((name, type) => {
      if (type === A) return { answers: [{ name, type: CNAME, ttl: 60, data: 'real.example' }, a('real.example', '10.0.0.2'), a('real.example', '10.0.0.1')] };
      return { answers: [{ name, type: AAAA, ttl: 60, data: '2001:db8::7' }] };
    });
    const { record } = watch({ servers: [server.address] }, 'svc.example:50051');
    const { instances } = await record.waitForUpdate(() => true, { since: 0 });
    record.stop();
    assert.deepEqual(addresses(instances), ['10.0.0.1:50051', '10.0.0.2:50051', '[2001:db8::7]:50051']);
    assert.deepEqual(server.asked.map((q) => q.type).sort(), [A, AAAA]);

    const v4 = watch({ servers: [server.address], family: 'ipv4' }, 'svc.example:50051').record;
    assert.deepEqual(addresses((await v4.waitForUpdate(() => true, { since: 0 })).instances), ['10.0.0.1:50051', '10.0.0.2:50051']);
    v4.stop();
  });

  test('SRV: the lowest priority group only, weights from the records, addresses from the additional section', async () => {
    const name = '_grpc._tcp.svc.example';
    const server = await dns((q, type) => {
      if (type === SRV) {
        return {
          answers: [
            srv(q, 10, 3, 7001, 'a.svc.example'),
            srv(q, 10, 1, 7002, 'b.svc.example'),
            srv(q, 20, 100, 7003, 'backup.svc.example'),
          ],
          additionals: [a('a.svc.example', '10.0.1.1')],
        };
      }
      if (q === 'b.svc.example' && type === A) return { answers: [a(q, '10.0.1.2')] };
      return { rcode: 0 };
    });
    const { record } = watch({ servers: [server.address], family: 'ipv4' }, name);
    const { instances } = await record.waitForUpdate(() => true, { since: 0 });
    record.stop();
    assert.deepEqual(instances, [
      { address: '10.0.1.1:7001', weight: 3 },
      { address: '10.0.1.2:7002', weight: 1 },
    ]);
    assert.deepEqual(
      server.asked.map((q) => `${q.type}:${q.name}`),
      [`${SRV}:${name}`, `${A}:b.svc.example`],
      'a.svc.example came in the additional section, the backup group is never looked up',
    );
  });

  test('SRV weight 0 is left out beside weighted records, and counts as equal when all are 0; "." targets are skipped', async () => {
    const server = await dns((q, type) => {
      if (q.startsWith('_mixed')) return { answers: [srv(q, 1, 0, 1, 'z.example'), srv(q, 1, 5, 2, 'w.example'), srv(q, 1, 9, 3, '.')], additionals: [a('z.example', '10.0.2.1'), a('w.example', '10.0.2.2')] };
      if (q.startsWith('_zero')) return { answers: [srv(q, 1, 0, 1, 'z.example'), srv(q, 1, 0, 2, 'w.example')], additionals: [a('z.example', '10.0.2.1'), a('w.example', '10.0.2.2')] };
      return { rcode: 0 };
    });
    const mixed = watch({ servers: [server.address], family: 'ipv4' }, '_mixed._tcp.example').record;
    assert.deepEqual((await mixed.waitForUpdate(() => true, { since: 0 })).instances, [{ address: '10.0.2.2:2', weight: 5 }]);
    mixed.stop();
    const zero = watch({ servers: [server.address], family: 'ipv4' }, '_zero._tcp.example').record;
    assert.deepEqual((await zero.waitForUpdate(() => true, { since: 0 })).instances, [
      { address: '10.0.2.1:1', weight: 1 },
      { address: '10.0.2.2:2', weight: 1 },
    ]);
    zero.stop();
  });

  test('re-resolves on the TTL, bounded by minTtlMs and maxTtlMs', async () => {
    const ttls: Record<string, number> = { 'one.example': 1, 'zero.example': 0, 'long.example': 3600 };
    const server = await dns((name) => ({ answers: [a(name, '10.0.3.1', ttls[name])] }));
    const records = [
      watch({ servers: [server.address], family: 'ipv4', minTtlMs: 100, maxTtlMs: 60_000 }, 'one.example:1').record,
      watch({ servers: [server.address], family: 'ipv4', minTtlMs: 250, maxTtlMs: 60_000 }, 'zero.example:1').record,
      watch({ servers: [server.address], family: 'ipv4', minTtlMs: 100, maxTtlMs: 400 }, 'long.example:1').record,
    ];
    await sleep(2_300);
    records.forEach((r) => r.stop());
    const count = (name: string) => server.asked.filter((q) => q.name === name).length;
    // Ranges leave room for a loaded machine; minTtlMs alone would mean about 20 queries.
    assert.ok(count('one.example') >= 2 && count('one.example') <= 3, `TTL 1 s → at 0, 1 and 2 s: ${count('one.example')}`);
    assert.ok(count('zero.example') >= 6 && count('zero.example') <= 10, `TTL 0 → every 250 ms: ${count('zero.example')}`);
    assert.ok(count('long.example') >= 4 && count('long.example') <= 6, `TTL 1 h → every 400 ms: ${count('long.example')}`);
    assert.equal(records[0].updates.length, 1, 'an unchanged answer is not delivered again');
  });

  test('NXDOMAIN: reported as an error, no empty list, and the name is found again when it comes back', async () => {
    let exists = true;
    const server = await dns((name) => (exists ? { answers: [a(name, '10.0.4.1', 0)] } : { rcode: 3 }));
    const { record } = watch({ servers: [server.address], family: 'ipv4', minTtlMs: 100, backoff: { initialMs: 100, maxMs: 200 } }, 'flaky.example:80');
    await record.waitForUpdate(() => true, { since: 0 });
    exists = false;
    const { error } = await record.waitForError(undefined, { since: 0 });
    assert.ok(isDnsError(error));
    assert.equal(error.code, 'NXDOMAIN');
    assert.match(error.message, /dns A "flaky.example": NXDOMAIN/);
    exists = true;
    const back = await record.waitForUpdate(() => true, { since: Date.now() });
    record.stop();
    assert.deepEqual(addresses(back.instances), ['10.0.4.1:80']);
    assert.ok(record.updates.every((u) => u.instances.length > 0));
    assert.equal(record.updates.length, 2, 'the list is delivered again after the outage');
  });

  test('SERVFAIL from one server moves on to the next; from all, it is an error', async () => {
    const failing = await dns(() => ({ rcode: 2 }));
    const working = await dns((name) => ({ answers: [a(name, '10.0.5.1')] }));
    const both = watch({ servers: [failing.address, working.address], family: 'ipv4' }, 'svc.example:1').record;
    assert.deepEqual(addresses((await both.waitForUpdate(() => true, { since: 0 })).instances), ['10.0.5.1:1']);
    both.stop();

    const only = watch({ servers: [failing.address], family: 'ipv4', tries: 2 }, 'svc.example:1').record;
    const { error } = await only.waitForError(undefined, { since: 0 });
    only.stop();
    assert.ok(isDnsError(error) && error.code === 'SERVFAIL', error.message);
    assert.match(error.message, new RegExp(`dns A "svc.example" at ${failing.address}: SERVFAIL`));
    assert.equal(failing.asked.filter((q) => q.name === 'svc.example').length, 1 + 2, 'one try beside the good server, then two rounds alone');
  });

  test('a server that never answers is a TIMEOUT error after timeoutMs × tries', async () => {
    const silent = await dns(() => ({ drop: true }));
    const started = Date.now();
    const { record } = watch({ servers: [silent.address], family: 'ipv4', timeoutMs: 150, tries: 2 }, 'svc.example:1');
    const { error, at } = await record.waitForError(undefined, { since: 0 });
    record.stop();
    assert.ok(isDnsError(error) && error.code === 'TIMEOUT', error.message);
    assert.ok(at - started >= 290 && at - started < 1_000, `${at - started} ms`);
  });

  test('a truncated UDP answer is asked again over TCP', async () => {
    const server = await dns((name, type, over) => (over === 'udp' ? { truncated: true } : { answers: [a(name, '10.0.6.1'), a(name, '10.0.6.2')] }));
    const { record } = watch({ servers: [server.address], family: 'ipv4' }, 'big.example:9');
    const { instances } = await record.waitForUpdate(() => true, { since: 0 });
    record.stop();
    assert.deepEqual(addresses(instances), ['10.0.6.1:9', '10.0.6.2:9']);
    assert.deepEqual(server.asked.map((q) => q.over), ['udp', 'tcp']);
  });

  test('answers with another id are ignored; a malformed answer is a BADRESPONSE error', async () => {
    const server = await dns((name) =>
      name === 'stray.example' ? { strayFirst: true, answers: [a(name, '10.0.7.1')] } : { raw: (id) => Buffer.from([id >> 8, id & 0xff, 0x81, 0x80, 0, 1]) },
    );
    const good = watch({ servers: [server.address], family: 'ipv4' }, 'stray.example:1').record;
    assert.deepEqual(addresses((await good.waitForUpdate(() => true, { since: 0 })).instances), ['10.0.7.1:1']);
    good.stop();
    const bad = watch({ servers: [server.address], family: 'ipv4', tries: 1 }, 'broken.example:1').record;
    const { error } = await bad.waitForError(undefined, { since: 0 });
    bad.stop();
    assert.ok(isDnsError(error) && error.code === 'BADRESPONSE', error.message);
    assert.match(error.message, /malformed answer/);
  });

  test('resolveNow re-resolves at once, but no more often than minResolveIntervalMs', async (t) => {
    const server = await dns((name) => ({ answers: [a(name, '10.0.8.1', 3600)] }));
    const { resolver, record } = watch({ servers: [server.address], family: 'ipv4', minResolveIntervalMs: 300 }, 'now.example:1');
    const other = recordWatch(resolver, 'other.example:1');
    // Stopped whatever the assertions say: a watch waiting out an hour's TTL would hold the file open.
    t.after(() => {
      record.stop();
      other.stop();
    });
    await record.waitForUpdate(() => true, { since: 0 });
    await other.waitForUpdate(() => true, { since: 0 });
    const firstAt = server.asked.find((q) => q.name === 'now.example')!.at;
    for (let i = 0; i < 10; i++) {
      resolver.resolveNow('now.example:1');
      await sleep(10);
    }
    await sleep(300);
    const times = server.asked.filter((q) => q.name === 'now.example').map((q) => q.at);
    assert.equal(times.length, 2, 'ten calls inside the interval make one resolution');
    assert.ok(times[1] - firstAt >= 290, `second resolution ${times[1] - firstAt} ms after the first`);
    assert.equal(server.asked.filter((q) => q.name === 'other.example').length, 1, 'resolveNow(service) leaves other names alone');

    await sleep(Math.max(0, times[1] + 320 - Date.now()));
    resolver.resolveNow();
    await sleep(50);
    assert.equal(server.asked.filter((q) => q.name === 'now.example').length, 3, 'after the interval it runs at once');
    assert.equal(server.asked.filter((q) => q.name === 'other.example').length, 2, 'resolveNow() covers every name');
    record.stop();
    other.stop();
  });

  test('stop ends re-resolution and leaves no socket or timer behind', async () => {
    const server = await dns((name) => ({ answers: [a(name, '10.0.9.1', 0)] }));
    // Counted by kind: other tests' timers may end meanwhile, so timers may only go down.
    const count = (kind: string) => process.getActiveResourcesInfo().filter((r) => r === kind).length;
    const sockets = count('UDPWrap');
    const timers = count('Timeout');
    const { record } = watch({ servers: [server.address], family: 'ipv4', minTtlMs: 50 }, 'stop.example:1');
    await record.waitForUpdate(() => true, { since: 0 });
    record.stop();
    const asked = server.asked.length;
    await sleep(200);
    assert.equal(server.asked.length, asked, 'no query after stop');
    assert.equal(count('UDPWrap'), sockets, 'no socket left');
    assert.ok(count('Timeout') <= timers, `no timer left (${count('Timeout')} > ${timers})`);
  });

  test('IP literals and localhost need no query', async () => {
    const server = await dns(() => ({ drop: true }));
    const resolver = dnsResolver({ servers: [server.address] });
    for (const [name, expected] of [
      ['10.1.1.1:80', '10.1.1.1:80'],
      ['[2001:db8::1]:443', '[2001:db8::1]:443'],
      ['localhost:50051', '127.0.0.1:50051'],
    ]) {
      const record = recordWatch(resolver, name);
      assert.deepEqual(addresses((await record.waitForUpdate(() => true, { since: 0 })).instances), [expected]);
      record.stop();
    }
    assert.equal(server.asked.length, 0);
  });
});

describe('dnsResolver options and dns:// targets', () => {
  test('bad options throw a TypeError naming the field', () => {
    assert.throws(() => dnsResolver({ servers: [] }), /servers must be a non-empty array/);
    assert.throws(() => dnsResolver({ servers: ['dns.example:53'] }), /servers\[0\] must be an IP address/);
    assert.throws(() => dnsResolver({ servers: ['10.0.0.1:99999'] }), /servers\[0\]/);
    assert.throws(() => dnsResolver({ family: 'v4' as never }), /family/);
    assert.throws(() => dnsResolver({ minTtlMs: 0 }), /minTtlMs/);
    assert.throws(() => dnsResolver({ minTtlMs: 5_000, maxTtlMs: 1_000 }), /maxTtlMs \(1000\) must be >= minTtlMs \(5000\)/);
    assert.throws(() => dnsResolver({ tries: 0 }), /tries/);
    assert.throws(() => dnsResolver({ maxTtlMs: 2 ** 31 }), (error: Error) => /maxTtlMs/.test(error.message) && /2147483647/.test(error.message));
    assert.throws(() => dnsResolver({ timeoutMs: 2 ** 31 }), /timeoutMs/);
    assert.throws(() => dnsResolver({ backoff: { maxMs: 2 ** 31 } }), /backoff.maxMs/);
    assert.throws(() => dnsResolver({ srv: 'yes' as never }), /srv must be a boolean/);
  });

  test('bad names are reported to the listener, not thrown', async () => {
    const resolver = dnsResolver({ servers: ['127.0.0.1:1'] });
    for (const [name, message] of [
      ['no-port.example', /must be "host:port"/],
      ['_svc._tcp.example:80', /must not carry a port/],
      [`${'x'.repeat(64)}.example:1`, /label longer than 63/],
    ] as const) {
      const record = recordWatch(resolver, name);
      const { error } = await record.waitForError(undefined, { since: 0 });
      record.stop();
      assert.match(error.message, message);
    }
  });

  test('dns:// targets: the authority is the DNS server, "_" names and ?srv=true are SRV', async () => {
    const server = await dns((name, type) => {
      if (type === SRV) return { answers: [srv(name, 1, 2, 7777, 't.example')], additionals: [a('t.example', '10.9.0.1')] };
      if (type === A) return { answers: [a(name, '10.9.0.2')] };
      return { rcode: 0 };
    });
    const cases: [string, string, Instance[]][] = [
      [`dns://${server.address}/host.example:50051`, 'host.example:50051', [{ address: '10.9.0.2:50051' }]],
      [`dns://${server.address}/_grpc._tcp.svc.example`, '_grpc._tcp.svc.example', [{ address: '10.9.0.1:7777', weight: 2 }]],
      [`dns://${server.address}/svc.example?srv=true&family=ipv4`, 'svc.example', [{ address: '10.9.0.1:7777', weight: 2 }]],
    ];
    for (const [target, service, expected] of cases) {
      const resolved = resolveTarget(parseTarget(target));
      assert.equal(resolved.service, service);
      const record = recordWatch(resolved.resolver, resolved.service);
      assert.deepEqual((await record.waitForUpdate(() => true, { since: 0 })).instances, expected, target);
      record.stop();
    }
    // As in grpc-js, a name without a port means port 443.
    assert.equal(resolveTarget(parseTarget('dns:///host.example')).service, 'host.example:443');
    assert.throws(() => resolveTarget(parseTarget('dns:///host.example:1?ttl=5')), /unknown parameter "ttl"/);
    assert.throws(() => resolveTarget(parseTarget('dns://dns.example/host.example:1')), /must be an IP address/);
  });
});
