import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { generate } from 'selfsigned';
import { createClient } from '../../src';
import { EchoClient, startEchoServer, type EchoReply, type EchoServer } from '../helpers/echo-server';

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
