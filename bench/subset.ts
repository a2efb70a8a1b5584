/**
 * Deterministic subsetting, simulated (no sockets): 1,000 clients × 300 servers, subsets of 10
 * and 30, the balanced assignment (clientCount known) against rendezvous subsetting (each client
 * on its own).
 *
 *   npm run bench -- subset [--clients 1000] [--servers 300] [--spread 10] [--changes 5]
 *
 * For each size, first the fleet of --servers: connections per client, server load (clients per
 * server) max / mean and min / mean (goal max / mean ≤ 1.1), and the time to compute the
 * assignment. Then the sweep, over every fleet size from servers − spread to servers + spread:
 * for each, --changes servers leaving (one at a time, spread over the sorted list) and as many
 * joining, and the client↔server pairs each changes against the minimum (goal ≤ 2×): when a server
 * leaves, each of its clients drops it and takes one other (2 pairs per client it had); when one
 * joins, it must take its fair share ⌊clients × size / servers⌋ of clients, each dropping one
 * server (2 pairs each). Printed: the worst ratio and the mean, for leaves and joins, and the
 * worst load max / mean, over the whole sweep. The figures are deterministic.
 */
import { balancedSubsets, clientHash, rendezvousSubset, serverTable, DEFAULT_SUBSET_LOAD_FACTOR } from '../src/balancer/subset-assignment';
import { numericArgs } from './support/harness';

const { clients, servers, factor, spread, changes } = numericArgs({ clients: 1000, servers: 300, factor: DEFAULT_SUBSET_LOAD_FACTOR, spread: 10, changes: 5 });
const SIZES = [10, 30];

/** Each client's servers, by client index. */
type Assignment = Set<string>[];
type Assign = (addresses: readonly string[], size: number) => Assignment;

const balanced: Assign = (addresses, size) => {
  const table = serverTable(addresses);
  return balancedSubsets(table, clients, size, factor).map((subset) => new Set(Array.from(subset, (s) => table.addresses[s])));
};

const rendezvous: Assign = (addresses, size) => {
  const table = serverTable(addresses);
  return Array.from({ length: clients }, (_, c) => new Set(rendezvousSubset(table, clientHash(c), size).map((s) => table.addresses[s])));
};

function loads(assignment: Assignment, addresses: readonly string[]): Map<string, number> {
  const load = new Map(addresses.map((a) => [a, 0]));
  for (const subset of assignment) for (const server of subset) load.set(server, (load.get(server) ?? 0) + 1);
  return load;
}

function changed(a: Assignment, b: Assignment): number {
  let pairs = 0;
  a.forEach((before, c) => {
    const after = b[c];
    for (const s of before) if (!after.has(s)) pairs++;
    for (const s of after) if (!before.has(s)) pairs++;
  });
  return pairs;
}

function address(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:50051`;
}

function fleet(m: number): string[] {
  return Array.from({ length: m }, (_, i) => address(i));
}

interface Quality {
  perClient: [number, number];
  max: number;
  min: number;
  ms: number;
}

function quality(assign: Assign, size: number): Quality {
  const list = fleet(servers);
  const started = performance.now();
  const base = assign(list, size);
  const ms = performance.now() - started;
  const load = [...loads(base, list).values()];
  const mean = (clients * size) / servers;
  const counts = base.map((s) => s.size);
  return { perClient: [Math.min(...counts), Math.max(...counts)], max: Math.max(...load) / mean, min: Math.min(...load) / mean, ms };
}

interface Sweep {
  leave: { worst: number; sum: number; at: number };
  join: { worst: number; sum: number; at: number };
  count: number;
  max: number;
}

/** Every fleet size of the sweep, `changes` leaves and joins at each. */
function sweep(assign: Assign, size: number): Sweep {
  const out: Sweep = { leave: { worst: 0, sum: 0, at: 0 }, join: { worst: 0, sum: 0, at: 0 }, count: 0, max: 0 };
  for (let m = servers - spread; m <= servers + spread; m++) {
    const list = fleet(m);
    const base = assign(list, size);
    const load = loads(base, list);
    out.max = Math.max(out.max, Math.max(...load.values()) / ((clients * size) / m));
    for (let k = 0; k < changes; k++) {
      const gone = list[Math.floor(((k + 0.5) * m) / changes)];
      const leave = changed(base, assign(list.filter((a) => a !== gone), size)) / (2 * (load.get(gone) ?? 0));
      const join = changed(base, assign([...list, address(100_000 + m * changes + k)], size)) / (2 * Math.floor((clients * size) / (m + 1)));
      out.count++;
      out.leave.sum += leave;
      out.join.sum += join;
      if (leave > out.leave.worst) out.leave = { ...out.leave, worst: leave, at: m };
      if (join > out.join.worst) out.join = { ...out.join, worst: join, at: m };
    }
  }
  return out;
}

function verdict(ok: boolean): string {
  return ok ? 'ok' : 'MISSED';
}

function main(): void {
  console.log(`${clients} clients × ${servers} servers; load = clients per server`);
  for (const size of SIZES) {
    for (const [name, assign] of [
      ['balanced (clientCount known)', balanced],
      ['rendezvous (no client count)', rendezvous],
    ] as const) {
      const q = quality(assign, size);
      console.log(
        `size ${String(size).padStart(2)}  ${name.padEnd(30)} connections/client ${q.perClient[0]}–${q.perClient[1]}   ` +
          `load max/mean ${q.max.toFixed(3)} (goal ≤ 1.1 ${verdict(q.max <= 1.1)})  min/mean ${q.min.toFixed(3)}   ` +
          `${name.startsWith('balanced') ? 'assignment' : `${clients} subsets`} ${q.ms.toFixed(1)} ms`,
      );
    }
    const started = performance.now();
    const s = sweep(balanced, size);
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `size ${String(size).padStart(2)}  balanced, sweep of every fleet size ${servers - spread}..${servers + spread}, ${changes} leaves and ${changes} joins each (${s.count} of each, ${seconds.toFixed(1)} s):\n` +
        `          pairs changed / minimum: leave worst ${s.leave.worst.toFixed(2)} (at ${s.leave.at} servers), mean ${(s.leave.sum / s.count).toFixed(2)}; ` +
        `join worst ${s.join.worst.toFixed(2)} (at ${s.join.at}), mean ${(s.join.sum / s.count).toFixed(2)} ` +
        `(goal ≤ 2 ${verdict(Math.max(s.leave.worst, s.join.worst) <= 2)}); load max/mean worst ${s.max.toFixed(3)} (goal ≤ 1.1 ${verdict(s.max <= 1.1)})`,
    );
  }
}

main();
