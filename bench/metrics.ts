// What the metrics middleware costs a call: unary echo over 3 local servers (in another process)
// through createClient without middleware, with metrics() (call level) and with metrics() plus
// metrics.attempts (both levels), at the same concurrency. Rounds alternate so machine noise hits
// all alike; medians of the rounds are compared. The registry is scraped every second during the
// runs, so the cost of bringing the series up to date is in the figures too.
//
// Then the middleware alone: the same chains over a transport that answers at once, which shows
// the nanoseconds per call that the end-to-end ratio hides in its noise; beside them, a bare
// prom-client middleware (the three call-level series written per call with inc() and observe()),
// the cost of doing it the plain way.
//
//   npm run bench -- metrics [--seconds 3] [--rounds 5] [--concurrency 64]
import * as grpc from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import { Counter, Histogram, Registry } from 'prom-client';
import { compose, createClient, type Middleware, type Next } from '../src';
import { metrics } from '../src/middleware/metrics';
import { context } from '../test/helpers/context';
import { EchoClient, type EchoStub } from '../test/helpers/echo-server';
import { fmt, median, runLoad, startServerProcess, numericArgs, type LoadResult } from './support/harness';

const { seconds, rounds, concurrency } = numericArgs({ seconds: 3, rounds: 5, concurrency: 64 });

/** More often than any Prometheus would scrape, to count the scrape-time work generously. */
const SCRAPE_INTERVAL_MS = 1_000;
const MICRO_CALLS = 1_000_000;

type Contender = { name: string; call: () => Promise<unknown>; close: () => void };

function contender(name: string, addresses: string[], middleware: (registry: Registry) => Middleware[]): Contender {
  const registry = new Registry();
  const client = createClient(EchoClient, { target: `static:///${addresses.join(',')}`, middleware: middleware(registry) }) as unknown as EchoStub & { close(): void };
  const request = { message: 'hello' };
  const scraper = setInterval(() => void registry.metrics(), SCRAPE_INTERVAL_MS);
  return {
    name,
    call: () => new Promise((resolve, reject) => client.unary(request, (err: Error | null, r: unknown) => (err ? reject(err) : resolve(r)))),
    close: () => {
      clearInterval(scraper);
      client.close();
    },
  };
}

function both(registry: Registry): Middleware[] {
  const m = metrics({ registry });
  return [m, m.attempts];
}

/** started, handled and handling time written straight to prom-client on every call. */
function barePromClient(registry: Registry): Middleware {
  const labelNames = ['grpc_type', 'grpc_service', 'grpc_method'];
  const started = new Counter({ name: 'grpc_client_started_total', help: 'started', labelNames, registers: [registry] });
  const handled = new Counter({ name: 'grpc_client_handled_total', help: 'handled', labelNames: [...labelNames, 'grpc_code'], registers: [registry] });
  const handling = new Histogram({ name: 'grpc_client_handling_seconds', help: 'handling', labelNames, registers: [registry] });
  return (next) => async (ctx) => {
    const labels = { grpc_type: ctx.type, grpc_service: 'test.echo.Echo', grpc_method: 'Unary' };
    started.inc(labels);
    const end = handling.startTimer(labels);
    try {
      await next(ctx);
    } finally {
      end();
      handled.inc({ ...labels, grpc_code: String(ctx.status?.code ?? 13) });
    }
  };
}

/** Nanoseconds per call of a chain over a transport that answers at once. */
async function micro(middleware: Middleware[]): Promise<number> {
  const endpoint = { address: '127.0.0.1:1', state: 'ready', draining: false, ejected: false, serving: true };
  const terminal: Next = async (ctx) => {
    ctx.endpoint = endpoint as never;
    ctx.status = { code: grpc.status.OK, details: '', metadata: new grpc.Metadata() };
  };
  const chain = compose(middleware, terminal);
  const ctx = context({ method: '/test.echo.Echo/Unary' });
  // Attached as createClient attaches them, so the per-endpoint series are counted too.
  for (const mw of middleware) mw.attach?.(ctx.client);
  for (let i = 0; i < MICRO_CALLS / 10; i++) await chain(ctx);
  const start = performance.now();
  for (let i = 0; i < MICRO_CALLS; i++) await chain(ctx);
  return ((performance.now() - start) * 1e6) / MICRO_CALLS;
}

async function main(): Promise<void> {
  const servers = await startServerProcess(3);
  const contenders = [
    contender('no middleware', servers.addresses, () => []),
    contender('metrics()', servers.addresses, (registry) => [metrics({ registry })]),
    contender('metrics() + metrics.attempts', servers.addresses, both),
  ];

  // Warm up all: connections, JIT.
  for (const c of contenders) await runLoad(c.call, concurrency, 1000);

  const results = new Map<string, LoadResult[]>(contenders.map((c) => [c.name, []]));
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? [...contenders].reverse() : contenders;
    for (const c of order) results.get(c.name)!.push(await runLoad(c.call, concurrency, seconds * 1000));
  }

  const summary = contenders.map(({ name }) => {
    const runs = results.get(name)!;
    return {
      name,
      throughput: median(runs.map((x) => x.throughput)),
      p50: median(runs.map((x) => x.p50)),
      p99: median(runs.map((x) => x.p99)),
      cpu: median(runs.map((x) => x.cpuPerCallUs)),
      failures: runs.reduce((a, x) => a + x.failures, 0),
    };
  });
  console.log(`unary echo, 3 servers, ${concurrency} in flight, ${rounds} rounds × ${seconds} s, medians; registry scraped every ${SCRAPE_INTERVAL_MS} ms`);
  for (const s of summary) {
    console.log(`  ${s.name.padEnd(30)} ${fmt(s.throughput, 0).padStart(7)} calls/s   p50 ${fmt(s.p50)} ms   p99 ${fmt(s.p99)} ms   client CPU ${fmt(s.cpu, 1)} µs/call   failures ${s.failures}`);
  }
  const [base, ...withMetrics] = summary;
  for (const s of withMetrics) {
    console.log(
      `ratio ${s.name} / none: client CPU per call ${fmt(s.cpu / base.cpu, 3)} (goal <= 1.05), p50 ${fmt(s.p50 / base.p50, 3)}, throughput ${fmt(s.throughput / base.throughput, 3)}`,
    );
  }
  for (const c of contenders) c.close();
  servers.stop();

  const none = await micro([]);
  const callLevel = await micro([metrics({ registry: new Registry() })]);
  const m = metrics({ registry: new Registry() });
  const twoLevels = await micro([m, m.attempts]);
  const bare = await micro([barePromClient(new Registry())]);
  console.log(`\nmiddleware alone, ${MICRO_CALLS.toLocaleString('en')} calls over an instant transport`);
  console.log(`  metrics()                      +${fmt(callLevel - none, 0)} ns/call (${fmt(((callLevel - none) / 1000 / base.cpu) * 100, 2)} % of a call's client CPU above)`);
  console.log(`  metrics() + metrics.attempts   +${fmt(twoLevels - none, 0)} ns/call (${fmt(((twoLevels - none) / 1000 / base.cpu) * 100, 2)} % of a call's client CPU above)`);
  console.log(`  bare prom-client (3 series)    +${fmt(bare - none, 0)} ns/call; metrics() costs ${fmt((callLevel - none) / (bare - none), 2)}× of it`);
}

void main();
