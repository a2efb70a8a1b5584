import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { generate } from 'selfsigned';
import { createClient } from '../../src';
import { EchoClient, startEchoServer, type EchoReply, type EchoServer, type EchoStub } from '../helpers/echo-server';

// Endpoints are IP addresses; the certificate names the service's DNS name only, as in most
// deployments. The client must check the certificate against that name, not the IP.
const SERVICE_NAME = 'echo.internal.test';

describe('TLS to IP-address endpoints', () => {
  let servers: EchoServer[];
  let ca: Buffer;

  before(async () => {
    const pems = await generate([{ name: 'commonName', value: SERVICE_NAME }], {
      keyType: 'ec',
      extensions: [
        { name: 'basicConstraints', cA: true },
        { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 2, value: SERVICE_NAME }] },
      ],
    });
    ca = Buffer.from(pems.cert);
    const credentials = grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(pems.private), cert_chain: ca }]);
    servers = await Promise.all([0, 1].map((i) => startEchoServer({ name: `tls${i}`, credentials })));
  });
  after(() => servers.forEach((s) => s.forceStop()));

  test('calls succeed over TLS when tlsServerName names the certificate', async () => {
    const c = createClient(EchoClient, {
      target: `static:///${servers.map((s) => s.address).join(',')}`,
      credentials: grpc.credentials.createSsl(ca),
      tlsServerName: SERVICE_NAME,
    });
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add(((await c.async.Unary({ message: 'secure' })) as EchoReply).server);
    assert.deepEqual([...seen].sort(), ['tls0', 'tls1']);
    c.close();
  });

  test('getAuthContext gives the server certificate, as on a plain grpc-js stub', async () => {
    const options = { credentials: grpc.credentials.createSsl(ca), tlsServerName: SERVICE_NAME };
    const c = createClient(EchoClient, { target: `static:///${servers[0].address}`, ...options });
    const plain = new EchoClient(servers[0].address, options.credentials, {
      'grpc.ssl_target_name_override': SERVICE_NAME,
      'grpc.default_authority': SERVICE_NAME,
    }) as unknown as EchoStub;
    const authContextAfter = (start: (callback: () => void) => { getAuthContext(): unknown; on(event: 'status', f: () => void): unknown }) =>
      new Promise<unknown>((resolve) => {
        const call = start(() => undefined);
        call.on('status', () => resolve(call.getAuthContext()));
      });
    const mine = (await authContextAfter((cb) => c.Unary({ message: 'who' }, cb))) as { transportSecurityType?: string; sslPeerCertificate?: { raw?: Buffer } };
    const theirs = (await authContextAfter((cb) => plain.Unary({ message: 'who' }, cb))) as typeof mine;
    assert.equal(theirs.transportSecurityType, 'ssl');
    assert.equal(mine.transportSecurityType, 'ssl');
    assert.ok(mine.sslPeerCertificate?.raw?.equals(theirs.sslPeerCertificate!.raw!), 'the same peer certificate');

    const stream = c.ServerStream({ message: 'who', count: 2 }) as grpc.ClientReadableStream<EchoReply>;
    stream.on('data', () => undefined);
    await new Promise((resolve) => stream.on('status', resolve));
    assert.equal((stream.getAuthContext() as typeof mine).transportSecurityType, 'ssl');
    plain.close();
    c.close();
  });

  test('call credentials given in call options reach the server, as with grpc-js', async () => {
    const c = createClient(EchoClient, { target: `static:///${servers[0].address}`, credentials: grpc.credentials.createSsl(ca), tlsServerName: SERVICE_NAME });
    let asked = 0;
    const perCall = grpc.credentials.createFromMetadataGenerator((_params, callback) => {
      asked++;
      const md = new grpc.Metadata();
      md.set('authorization', 'Bearer per-call');
      callback(null, md);
    });
    await new Promise((resolve, reject) => c.Unary({ message: 'auth' }, { credentials: perCall }, (e: Error | null, r: unknown) => (e ? reject(e) : resolve(r))));
    assert.equal(asked, 1);
    assert.equal(servers[0].lastMetadata?.get('authorization')[0], 'Bearer per-call');
    c.close();
  });

  test('without it, the IP address does not match the certificate and calls fail UNAVAILABLE', async () => {
    const c = createClient(EchoClient, {
      target: `static:///${servers[0].address}`,
      credentials: grpc.credentials.createSsl(ca),
    });
    await assert.rejects(c.async.Unary({}, { deadline: Date.now() + 3000 }), (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE);
    c.close();
  });

  test('plaintext to a TLS server fails, it does not hang', async () => {
    const c = createClient(EchoClient, { target: `static:///${servers[0].address}`, connectTimeoutMs: 500 });
    await assert.rejects(c.async.Unary({}, { deadline: Date.now() + 3000 }), (e: grpc.ServiceError) =>
      [grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED].includes(e.code),
    );
    c.close();
  });
});
