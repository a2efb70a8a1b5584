// What retry and its budget buy when upstreams fail, in one run:
//
//  1. Three servers under steady load; one is killed mid-run (forceShutdown, so its calls in
//     flight break). Failed calls with retry() and without. Goal with retry: 0.
//  2. Every server answers UNAVAILABLE. Attempts ÷ calls with retry()'s default budget and with
//     the budget turned off. Goal with the budget: <= 1.1 (without: about maxAttempts).
//
// Servers run in this process: one of them must be killed on cue, and the attempts are counted
// where they arrive.
//
//   npm run bench -- failover [--seconds 4] [--concurrency 32]
import * as grpc from '@grpc/grpc-js';
import { createClient, type LoadBalancedClientBase } from '../src';
import { retry, type Middleware } from '../src/middleware';
import { EchoClient, startEchoServers, type EchoServer, type EchoStub } from '../test/helpers/echo-server';
import { fmt, runLoad, numericArgs, type LoadResult } from './support/harness';

const { seconds, concurrency } = numericArgs({ seconds: 4, concurrency: 32 });

type Echo = EchoStub & LoadBalancedClientBase<unknown>;

/** Failures by status, with one message of each, to see what got through. */
type Failures = Map<string, { count: number; example: string }>;

function unary(c: Echo, failures?: Failures): () => Promise<unknown> {
  const request = { message: 'hello' };
  return () =>
    new Promise((resolve, reject) =>
      c.unary(request, (err: grpc.ServiceError | null, reply: unknown) => {
        if (!err) return resolve(reply);
        if (failures) {
          const name = grpc.status[err.code] ?? String(err.code);
          const entry = failures.get(name) ?? { count: 0, example: err.details };
          entry.count++;
          failures.set(name, entry);
        }
        reject(err);
      }),
    );
}

function describeFailures(failures: Failures): string {
  return [...failures].map(([name, { count, example }]) => `${name} ×${count} ("${example}")`).join(', ');
}

async function connected(servers: EchoServer[], middleware: Middleware[]): Promise<Echo> {
  const c = createClient(EchoClient, { target: `static:///${servers.map((s) => s.address).join(',')}`, middleware }) as unknown as Echo;
  const until = Date.now() + 5_000;
  while (c.endpoints().filter((e) => e.available).length < servers.length) {
    if (Date.now() > until) throw new Error('servers did not become ready');
    await new Promise((r) => setTimeout(r, 10));
  }
  return c;
}

/** Scenario 1: one of three servers dies a third of the way into the run. */
async function killOne(middleware: Middleware[]): Promise<LoadResult & { why: string }> {
  const servers = await startEchoServers(3);
  const c = await connected(servers, middleware);
  await runLoad(unary(c), concurrency, 500); // warm-up: connections, JIT
  const kill = setTimeout(() => servers[0].forceStop(), (seconds * 1000) / 3);
  const failures: Failures = new Map();
  const result = await runLoad(unary(c, failures), concurrency, seconds * 1000);
  clearTimeout(kill);
  c.close();
  for (const s of servers) s.forceStop();
  return { ...result, why: describeFailures(failures) };
}

/** Scenario 2: every server fails; counts attempts where they arrive. */
async function allFailing(middleware: Middleware[]): Promise<{ calls: number; attempts: number; failures: number }> {
  const servers = await startEchoServers(3, { failCode: grpc.status.UNAVAILABLE });
  const c = await connected(servers, middleware);
  const result = await runLoad(unary(c), concurrency, (seconds * 1000) / 2);
  const attempts = servers.reduce((n, s) => n + s.total(), 0);
  c.close();
  for (const s of servers) s.forceStop();
  return { calls: result.calls, attempts, failures: result.failures };
}

async function main(): Promise<void> {
  console.log(`failover, 3 in-process servers, ${concurrency} in flight, ${seconds} s per run`);

  console.log('\n1. one server killed (forceShutdown) a third of the way in');
  const withRetry = await killOne([retry()]);
  const withoutRetry = await killOne([]);
  for (const [name, r] of [
    ['retry()', withRetry],
    ['no retry', withoutRetry],
  ] as const) {
    console.log(
      `  ${name.padEnd(10)} ${String(r.calls).padStart(7)} calls   failed ${String(r.failures).padStart(4)} (${fmt((100 * r.failures) / r.calls, 3)} %)   p99 ${fmt(r.p99)} ms${r.why ? `   ${r.why}` : ''}`,
    );
  }
  console.log(`  failed calls with retry: ${withRetry.failures} (goal 0); without: ${withoutRetry.failures}`);

  console.log('\n2. every server answers UNAVAILABLE');
  const budgeted = await allFailing([retry({ initialBackoffMs: 1 })]);
  const unbudgeted = await allFailing([retry({ initialBackoffMs: 1, budget: false })]);
  for (const [name, r] of [
    ['retry() with its default budget', budgeted],
    ['retry({ budget: false })', unbudgeted],
  ] as const) {
    console.log(`  ${name.padEnd(32)} ${String(r.calls).padStart(7)} calls ${String(r.attempts).padStart(7)} attempts   attempts ÷ calls ${fmt(r.attempts / r.calls, 3)}`);
  }
  console.log(`  attempts ÷ calls with the budget: ${fmt(budgeted.attempts / budgeted.calls, 3)} (goal <= 1.1); without: ${fmt(unbudgeted.attempts / unbudgeted.calls, 3)}`);
}

void main();
