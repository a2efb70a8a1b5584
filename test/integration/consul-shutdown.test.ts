import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import { consulResolver } from '../../src/resolver/consul';
import { recordWatch, startConsul, type ConsulAgent } from '../helpers/consul-agent';
import { EchoClient, type EchoReply } from '../helpers/echo-server';

const ROOT = join(__dirname, '..', '..');
const DRAIN_MS = 1_000;

/** A service process: an Echo server with grpc.health.v1, registered in Consul, deregistering on SIGTERM. */
const SERVICE_SCRIPT = `
const { consulRegistry } = require(${JSON.stringify(join(ROOT, 'src', 'registry'))});
const { startEchoServer } = require(${JSON.stringify(join(ROOT, 'test', 'helpers', 'echo-server'))});
const { HealthImplementation } = require('grpc-health-check');
(async () => {
  const echo = await startEchoServer({ name: 'child' });
  new HealthImplementation({ '': 'SERVING' }).addToServer(echo.server);
  const registry = consulRegistry({ address: process.env.TEST_CONSUL_ADDRESS, onError: (e) => console.error(e.message) });
  await registry.register({ name: 'shutdown-svc', address: '127.0.0.1', port: echo.port, check: { type: 'grpc', interval: '1s' } });
  registry.deregisterOnShutdown(echo.server, { drainMs: ${DRAIN_MS} });
  console.log(JSON.stringify({ port: echo.port }));
})();
`;

function unary(address: string): Promise<EchoReply> {
  const client = new EchoClient(address, grpc.credentials.createInsecure()) as unknown as grpc.Client & Record<string, any>;
  return new Promise<EchoReply>((resolve, reject) =>
    client.unary({ message: 'still there?' }, { deadline: Date.now() + 1_000 }, (error: grpc.ServiceError | null, reply: EchoReply) =>
      error ? reject(error) : resolve(reply),
    ),
  ).finally(() => client.close());
}

describe('deregisterOnShutdown in a real service process', () => {
  let agent: ConsulAgent;
  let child: ChildProcess | undefined;

  before(async () => {
    agent = await startConsul();
  });
  after(async () => {
    child?.kill('SIGKILL');
    await agent?.stop();
  });

  test('SIGTERM: leaves Consul first, keeps answering while clients catch up, then stops and exits by the signal', async (t) => {
    child = spawn(process.execPath, ['--import', 'tsx', '-e', SERVICE_SCRIPT], {
      cwd: ROOT,
      env: { ...process.env, TEST_CONSUL_ADDRESS: agent.httpAddress },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
      child!.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
    );
    const firstLine = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child!.stdout! }).once('line', resolve);
      child!.once('exit', () => reject(new Error(`service exited before it was ready: ${stderr}`)));
    });
    const { port } = JSON.parse(firstLine) as { port: number };
    const address = `127.0.0.1:${port}`;

    const record = recordWatch(consulResolver({ address: agent.httpAddress }), 'shutdown-svc');
    try {
      await record.waitForUpdate((list) => list.some((i) => i.address === address), { since: 0, timeoutMs: 10_000 });

      const signalledAt = Date.now();
      child.kill('SIGTERM');
      const { at: goneAt } = await record.waitForError((e) => /no passing instances of "shutdown-svc"/.test(e.message), {
        since: signalledAt,
        timeoutMs: 2_000,
      });
      t.diagnostic(`SIGTERM → watchers told the instance is gone: ${goneAt - signalledAt} ms`);
      assert.ok(goneAt - signalledAt < 200);

      // Out of Consul, yet still serving: calls already on their way are not refused.
      const reply = await unary(address);
      assert.equal(reply.server, 'child');
      assert.ok(Date.now() - signalledAt < DRAIN_MS, 'that call was made inside the drain window');

      const exit = await exited;
      t.diagnostic(`SIGTERM → process exit: ${exit.at - signalledAt} ms`);
      assert.equal(exit.signal, 'SIGTERM', `the process ends by the signal it was sent (code ${exit.code}, stderr: ${stderr})`);
      assert.ok(exit.at - signalledAt >= DRAIN_MS, 'the server kept running for the drain window');
      await assert.rejects(unary(address), (error: grpc.ServiceError) => error.code === grpc.status.UNAVAILABLE);
      assert.equal(stderr.trim(), '', 'no background errors in the service');
    } finally {
      record.stop();
    }
  });
});
