// How fast a membership change reaches calls, through etcd and through Consul, in one run:
//
//   register → first call     from the start of register() to the start of the first call the new
//                              instance answers (watch/blocking query + connect + picker rebuild)
//   deregister → last call    from the start of deregister() to the start of the last call the
//                              leaving instance answers
//
// One client per registry watches a service with one instance under steady load (8 callers); a
// second instance joins and leaves, again and again. Rounds alternate etcd, Consul, Consul, etcd.
// Consul instances are registered without a check (passing at once), so both sides measure the
// same thing: the registry's propagation and the client's reaction, not a health check interval.
//
//   npm run bench -- discovery [--rounds 8]
import { createClient, consulRegistry, etcdRegistry, type LoadBalancedClientBase } from '../src';
import { startConsul } from '../test/helpers/consul-agent';
import { startEchoServer, EchoClient, type EchoServer, type EchoStub } from '../test/helpers/echo-server';
import { startEtcd } from '../test/helpers/etcd-server';
import { fmt, median, numericArgs } from './support/harness';

const { rounds } = numericArgs({ rounds: 8 });
const CALLERS = 8;

type Echo = EchoStub & LoadBalancedClientBase<unknown>;

interface Side {
  name: string;
  client: Echo;
  register(port: number): Promise<void>;
  deregister(port: number): Promise<void>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`${what} not within ${ms} ms`);
    await sleep(5);
  }
}

/** Calls under steady load; the start time of each call, by the server that answered it. */
function load(c: Echo) {
  const starts = new Map<string, number[]>();
  let running = true;
  const caller = async () => {
    while (running) {
      const at = performance.now();
      const server = await new Promise<string | undefined>((resolve) =>
        c.unary({ message: 'x' }, (err: Error | null, reply: { server: string }) => resolve(err ? undefined : reply.server)),
      );
      if (server) {
        const list = starts.get(server) ?? [];
        list.push(at);
        starts.set(server, list);
      }
    }
  };
  const callers = Array.from({ length: CALLERS }, caller);
  return {
    starts,
    stop: async () => {
      running = false;
      await Promise.all(callers);
    },
  };
}

async function measure(side: Side, joiner: EchoServer): Promise<{ join: number; leave: number; write: number }> {
  const traffic = load(side.client);
  try {
    await sleep(100);
    const registerAt = performance.now();
    await side.register(joiner.port);
    const written = performance.now();
    await until(() => (traffic.starts.get(joiner.name)?.length ?? 0) > 0, 15_000, `${side.name}: first call to the new instance`);
    const first = traffic.starts.get(joiner.name)![0];
    await sleep(300);
    const deregisterAt = performance.now();
    await side.deregister(joiner.port);
    // Long enough for any late call to have started; the last start is what counts.
    await sleep(1_000);
    const last = Math.max(...traffic.starts.get(joiner.name)!);
    return { join: first - registerAt, leave: last - deregisterAt, write: written - registerAt };
  } finally {
    await traffic.stop();
  }
}

async function main(): Promise<void> {
  const [etcd, consul] = await Promise.all([startEtcd(), startConsul()]);
  const base = await startEchoServer({ name: 'base' });
  const joiner = await startEchoServer({ name: 'joiner' });

  const etcdReg = etcdRegistry({ hosts: etcd.hosts });
  await etcdReg.register({ name: 'bench', address: '127.0.0.1', port: base.port });
  const consulReg = consulRegistry({ address: consul.httpAddress });
  await consulReg.register({ name: 'bench', address: '127.0.0.1', port: base.port, check: false });

  const sides: Side[] = [
    {
      name: 'etcd',
      client: createClient(EchoClient, { target: `etcd://${etcd.hosts}/bench` }) as unknown as Echo,
      register: async (port) => void (await etcdReg.register({ name: 'bench', address: '127.0.0.1', port })),
      deregister: (port) => etcdReg.deregister(`/services/bench/127.0.0.1:${port}`),
      close: () => etcdReg.deregister(),
    },
    {
      name: 'Consul',
      client: createClient(EchoClient, { target: `consul://${consul.httpAddress}/bench` }) as unknown as Echo,
      register: async (port) => void (await consulReg.register({ name: 'bench', id: `bench-${port}`, address: '127.0.0.1', port, check: false })),
      deregister: (port) => consulReg.deregister(`bench-${port}`),
      close: () => consulReg.deregister(),
    },
  ];
  for (const side of sides) await until(() => side.client.endpoints().some((e) => e.available), 15_000, `${side.name}: base instance`);

  console.log(`discovery latency, ${CALLERS} callers, ${rounds} rounds per registry (order etcd Consul Consul etcd …), one loopback etcd (writes fsynced to disk) and a Consul dev agent (in memory)`);
  const results = new Map<string, { join: number[]; leave: number[]; write: number[] }>(sides.map((s) => [s.name, { join: [], leave: [], write: [] }]));
  // One warm-up round each: connections, JIT, the registries' first writes.
  for (const side of sides) await measure(side, joiner);
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? sides : [...sides].reverse();
    for (const side of order) {
      const r = await measure(side, joiner);
      results.get(side.name)!.join.push(r.join);
      results.get(side.name)!.leave.push(r.leave);
      results.get(side.name)!.write.push(r.write);
    }
  }

  const row = (values: number[]) => `${fmt(median(values), 1).padStart(7)} ms  (${fmt(Math.min(...values), 1)}–${fmt(Math.max(...values), 1)})`;
  console.log(`\n  ${''.padEnd(8)} ${'register → first call'.padEnd(30)} ${'of which register() itself'.padEnd(30)} deregister → last call`);
  for (const side of sides) {
    const r = results.get(side.name)!;
    console.log(`  ${side.name.padEnd(8)} ${row(r.join).padEnd(30)} ${row(r.write).padEnd(30)} ${row(r.leave)}`);
  }
  console.log('  (a negative deregister figure: the last call to the leaving instance started before deregister() did)');
  const e = results.get('etcd')!;
  const c = results.get('Consul')!;
  console.log(`\n  etcd ÷ Consul (medians): register → first call ${fmt(median(e.join) / median(c.join))}, deregister → last call ${fmt(median(e.leave) / median(c.leave))}`);

  for (const side of sides) {
    side.client.close();
    await side.close();
  }
  base.forceStop();
  joiner.forceStop();
  await Promise.all([etcd.stop(), consul.stop()]);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
