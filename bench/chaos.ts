// Real faults under load, through the README's middleware chain:
//
//   three instances, each in a process of its own, answering after 20 ms with their response
//   headers sent first; 64 calls in flight on a round-robin client, and a consistent-hash client
//   calling 60 keys. Then, one after the other, each instance coming back (on its port) before
//   the next fault, as a supervisor would restart it:
//     1. SIGKILL of s0 while it has calls in flight (after their headers);
//     2. SIGTERM of s1 (graceful: it finishes its calls and leaves);
//     3. s2's port black-holed: s2 stops gracefully and a peer that accepts TCP and never speaks
//        HTTP/2 takes its port (connect timeouts), until s2 comes back.
//   Run twice: with the method not marked idempotent, and marked.
//
// Prints failed calls, calls refused by a breaker, seconds of service-breaker open time, and the
// keys the consistent-hash client moved at start-up and in each fault. Goals: the service
// breaker never opens; failed calls <= calls in flight on the killed instance (0 when
// idempotent); 0 keys moved at start-up; only the faulted owner's keys move.
//
//   npm run bench -- chaos [--concurrency 64] [--keys 60]
import * as grpc from '@grpc/grpc-js';
import { createServer, type Server, type Socket } from 'node:net';
import { Registry } from 'prom-client';
import { circuitBreaker, consistentHash, createClient, memoryResolver, metrics, retry, timeout, type LoadBalancedClientBase, type Middleware } from '../src';
import type { BreakerStateChange } from '../src/middleware';
import { startChildServer, type ChildServer } from '../test/helpers/child-server';
import { EchoClient, type Behaviour, type EchoReply, type EchoStub } from '../test/helpers/echo-server';
import { numericArgs } from './support/harness';

const { concurrency, keys: keyCount } = numericArgs({ concurrency: 64, keys: 60 });

type Echo = EchoStub & LoadBalancedClientBase<unknown>;

const BEHAVIOUR: Behaviour = { headersFirst: true, delayMs: 20 };
/** How long a faulted instance stays down before its supervisor brings it back. */
const DOWN_MS = 1_500;
/** Settling time after an instance is back, before the next fault. */
const SETTLE_MS = 1_000;
/** How often the hash client calls every key. */
const KEY_ROUND_MS = 100;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function readmeChain(idempotent: boolean, onService: (change: BreakerStateChange) => void): Middleware[] {
  const m = metrics({ registry: new Registry() });
  const service = circuitBreaker({ scope: 'service' });
  service.onStateChange(onService);
  return [m, timeout(2_000), service, retry({ maxAttempts: 3, idempotent }), circuitBreaker({ scope: 'endpoint' }), m.attempts];
}

/** A peer that accepts TCP and never speaks HTTP/2. */
function blackHole(port: number): Promise<{ close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.resume();
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () =>
      resolve({
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      }),
    );
  });
}

interface PhaseResult {
  name: string;
  failed: number;
  refused: number;
  inflightOnVictim: number;
  keysMoved: number;
  othersKeysMoved: number;
}

async function run(idempotent: boolean): Promise<void> {
  const names = ['s0', 's1', 's2'];
  const servers: ChildServer[] = await Promise.all(names.map((name) => startChildServer({ name, behaviour: BEHAVIOUR })));
  const addresses = servers.map((s) => s.address);
  const resolver = memoryResolver();
  resolver.set('echo', addresses);

  let openSince = -1;
  let openMs = 0;
  const onService = (change: BreakerStateChange) => {
    if (change.to === 'open' && openSince < 0) openSince = performance.now();
    if (change.to === 'closed' && openSince >= 0) {
      openMs += performance.now() - openSince;
      openSince = -1;
    }
  };
  const c = createClient(EchoClient, { resolver, service: 'echo', middleware: readmeChain(idempotent, onService) }) as unknown as Echo;

  // The hash client starts now and calls at once: its first owners, while connections come up.
  const hash = createClient(EchoClient, { resolver, service: 'echo', balancer: consistentHash(), middleware: readmeChain(idempotent, onService) }) as unknown as Echo;
  const keys = Array.from({ length: keyCount }, (_, i) => `user-${i}`);
  const ownersNow = async (): Promise<Map<string, string>> => {
    const replies = await Promise.all(
      keys.map((key) => (hash.async.Unary({ message: key }, { hashKey: key }) as Promise<EchoReply>).then((r) => r.server, () => 'failed')),
    );
    return new Map(keys.map((key, i) => [key, replies[i]]));
  };
  const atStartup = await ownersNow();
  await Promise.all([c.ready(), hash.ready()]);
  await sleep(500);
  const settled = await ownersNow();
  const startupMoved = keys.filter((k) => atStartup.get(k) !== settled.get(k)).length;

  // Load, counted per phase.
  let phase = { failed: 0, refused: 0 };
  let stop = false;
  const worker = async () => {
    while (!stop) {
      try {
        await c.async.Unary({ message: 'x' });
      } catch (error) {
        if (/circuit breaker is (open|half-open)/.test((error as grpc.ServiceError).details)) phase.refused++;
        else phase.failed++;
      }
    }
  };
  // Keys, observed every round: which moved away from their owner since the phase began.
  let baseline = settled;
  let movedKeys = new Set<string>();
  let hashFailures = 0;
  const keyLoop = async () => {
    while (!stop) {
      const now = await ownersNow();
      for (const key of keys) {
        const owner = now.get(key);
        if (owner === 'failed') hashFailures++;
        else if (owner !== baseline.get(key)) movedKeys.add(key);
      }
      await sleep(KEY_ROUND_MS);
    }
  };
  const workers = [...Array.from({ length: concurrency }, worker), keyLoop()];
  await sleep(1_000);

  const results: PhaseResult[] = [];
  const inflightOn = (address: string) => c.endpoints().find((e) => e.address === address)?.inflight ?? 0;
  const fault = async (name: string, index: number, act: () => Promise<() => Promise<void>>) => {
    phase = { failed: 0, refused: 0 };
    baseline = await ownersNow();
    movedKeys = new Set();
    const inflightOnVictim = inflightOn(addresses[index]);
    const restore = await act();
    await sleep(DOWN_MS);
    await restore();
    await Promise.all([c.ready(), hash.ready()]);
    // Both clients reconnected to it (each has its own reconnect backoff) and no endpoint breaker
    // still holds it out: one that opened on the fault keeps the restarted instance out for its
    // open time (5 s). Only then does the next phase start from every key on its owner; a
    // baseline taken earlier has the returning owner's keys elsewhere, and their return would
    // count as other owners' keys moving.
    const back = (client: Echo) => client.endpoints().every((e) => e.available);
    const until = Date.now() + 15_000;
    while (!(back(c) && back(hash)) && Date.now() < until) await sleep(50);
    await sleep(SETTLE_MS);
    const othersKeysMoved = [...movedKeys].filter((key) => baseline.get(key) !== names[index]).length;
    results.push({ name, ...phase, inflightOnVictim, keysMoved: movedKeys.size, othersKeysMoved });
  };
  const restart = (index: number) => async () => {
    servers[index] = await startChildServer({ name: names[index], port: servers[index].port, behaviour: BEHAVIOUR });
  };

  await fault('SIGKILL s0 (calls in flight after headers)', 0, async () => {
    await servers[0].kill('SIGKILL');
    return restart(0);
  });
  await fault('SIGTERM s1 (graceful)', 1, async () => {
    await servers[1].kill('SIGTERM');
    return restart(1);
  });
  await fault("s2's port black-holed", 2, async () => {
    await servers[2].kill('SIGTERM');
    const hole = await blackHole(servers[2].port);
    return async () => {
      await hole.close();
      await restart(2)();
    };
  });

  stop = true;
  await Promise.all(workers);
  if (openSince >= 0) openMs += performance.now() - openSince;
  c.close();
  hash.close();
  await Promise.all(servers.map((s) => s.kill('SIGKILL')));

  const failed = results.reduce((n, r) => n + r.failed, 0);
  const refused = results.reduce((n, r) => n + r.refused, 0);
  const killedInflight = results[0].inflightOnVictim;
  console.log(`\nmethod marked idempotent: ${idempotent ? 'yes' : 'no'}`);
  console.log('phase                                         failed  refused  in flight on victim  keys moved  of others');
  console.log(`${'start-up'.padEnd(44)}  ${'-'.padStart(6)}  ${'-'.padStart(7)}  ${'-'.padStart(19)}  ${String(startupMoved).padStart(10)}  ${'-'.padStart(9)}`);
  for (const r of results) {
    console.log(
      `${r.name.padEnd(44)}  ${String(r.failed).padStart(6)}  ${String(r.refused).padStart(7)}  ${String(r.inflightOnVictim).padStart(19)}  ${String(r.keysMoved).padStart(10)}  ${String(r.othersKeysMoved).padStart(9)}`,
    );
  }
  console.log(`service breaker open: ${(openMs / 1000).toFixed(2)} s; failed ${failed}, refused ${refused}; keyed calls failed ${hashFailures}`);
  const goals = [
    ['service breaker never opens', openMs === 0 && refused === 0],
    [`failed calls ${failed} <= ${idempotent ? 0 : `calls in flight on the killed instance (${killedInflight})`}`, failed <= (idempotent ? 0 : killedInflight)],
    ['0 keys moved at start-up', startupMoved === 0],
    ["only the faulted owner's keys moved", results.every((r) => r.othersKeysMoved === 0)],
  ] as const;
  for (const [goal, met] of goals) console.log(`  ${met ? 'met   ' : 'MISSED'}  ${goal}`);
}

async function main(): Promise<void> {
  console.log(`chaos: 3 instances (own processes, ${BEHAVIOUR.delayMs} ms, headers first), README chain, ${concurrency} in flight, ${keyCount} keys`);
  await run(false);
  await run(true);
}

void main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
