/**
 * Deterministic subsetting, simulated (no sockets): 1,000 clients × 300 servers, subsets of 10
 * and 30, the balanced assignment (clientCount known) against rendezvous subsetting (each client
 * on its own).
 *
 *   npm run bench -- subset [--clients 1000] [--servers 300]
 *
 * Prints connections per client, server load (clients per server) max / mean and min / mean
 * (goal max / mean ≤ 1.1), and the client↔server pairs that change when one server leaves or
 * joins, against the minimum (goal ≤ 2×). The minimum: when a server leaves, each of its clients
 * drops it and takes one other (2 pairs per client it had); when one joins, it must take its fair
 * share ⌊clients × size / servers⌋ of clients, each dropping one server (2 pairs each). Averaged
 * over 10 servers leaving and 10 joining; the figures are deterministic.
 */
import { balancedSubsets, clientHash, rendezvousSubset, serverTable, DEFAULT_SUBSET_LOAD_FACTOR } from '../src/balancer/subset-assignment';
import { numericArgs } from './support/harness';

const { clients, servers, factor } = numericArgs({ clients: 1000, servers: 300, factor: DEFAULT_SUBSET_LOAD_FACTOR });
const CHANGES = 10;

type Assign = (addresses: readonly string[], size: number) => Map<string, Set<string>>;

const balanced: Assign = (addresses, size) => {
  const table = serverTable(addresses);
  const subsets = balancedSubsets(table, clients, size, factor);
  return new Map(subsets.map((subset, c) => [String(c), new Set(Array.from(subset, (s) => table.addresses[s]))]));
};

const rendezvous: Assign = (addresses, size) => {
  const table = serverTable(addresses);
  const out = new Map<string, Set<string>>();
  for (let c = 0; c < clients; c++) out.set(String(c), new Set(rendezvousSubset(table, clientHash(c), size).map((s) => table.addresses[s])));
  return out;
};

function loads(assignment: Map<string, Set<string>>, addresses: readonly string[]): Map<string, number> {
  const load = new Map(addresses.map((a) => [a, 0]));
  for (const subset of assignment.values()) for (const server of subset) load.set(server, load.get(server)! + 1);
  return load;
}

function changed(a: Map<string, Set<string>>, b: Map<string, Set<string>>): number {
  let pairs = 0;
  for (const [client, before] of a) {
    const after = b.get(client)!;
    for (const s of before) if (!after.has(s)) pairs++;
    for (const s of after) if (!before.has(s)) pairs++;
  }
  return pairs;
}

function address(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:50051`;
}

/** Worst pairs-changed ratio over server counts around the given one: the rounding of capacities changes with the count. */
function sweep(size: number): { leave: number; join: number; max: number } {
  let leave = 0;
  let join = 0;
  let max = 0;
  for (let m = servers - 10; m <= servers + 10; m += 2) {
    const list = Array.from({ length: m }, (_, i) => address(i));
    const base = balanced(list, size);
    const load = loads(base, list);
    max = Math.max(max, Math.max(...load.values()) / ((clients * size) / m));
    const gone = list[m >> 1];
    leave = Math.max(leave, changed(base, balanced(list.filter((a) => a !== gone), size)) / (2 * load.get(gone)!));
    join = Math.max(join, changed(base, balanced([...list, address(200_000)], size)) / (2 * Math.floor((clients * size) / (m + 1))));
  }
  return { leave, join, max };
}

function main(): void {
  console.log(`${clients} clients × ${servers} servers; load = clients per server; pairs changed vs the minimum over ${CHANGES} leaves and ${CHANGES} joins`);
  const list = Array.from({ length: servers }, (_, i) => address(i));
  for (const size of [10, 30]) {
    for (const [name, assign] of [
      ['balanced (clientCount known)', balanced],
      ['rendezvous (no client count)', rendezvous],
    ] as const) {
      const started = performance.now();
      const base = assign(list, size);
      const ms = performance.now() - started;
      const load = [...loads(base, list).values()];
      const mean = (clients * size) / servers;
      const perClient = [...base.values()].map((s) => s.size);
      let leaveRatio = 0;
      let leaveWorst = 0;
      let joinRatio = 0;
      let joinWorst = 0;
      for (let k = 0; k < CHANGES; k++) {
        const gone = list[(k * 97) % servers];
        const minimum = 2 * loads(base, list).get(gone)!;
        const ratio = changed(base, assign(list.filter((a) => a !== gone), size)) / minimum;
        leaveRatio += ratio / CHANGES;
        leaveWorst = Math.max(leaveWorst, ratio);
        const joined = assign([...list, address(100_000 + k)], size);
        const joinRatioK = changed(base, joined) / (2 * Math.floor((clients * size) / (servers + 1)));
        joinRatio += joinRatioK / CHANGES;
        joinWorst = Math.max(joinWorst, joinRatioK);
      }
      console.log(
        `size ${String(size).padStart(2)}  ${name.padEnd(30)} connections/client ${Math.min(...perClient)}–${Math.max(...perClient)}   ` +
          `load max/mean ${(Math.max(...load) / mean).toFixed(3)} (goal ≤ 1.1 ${Math.max(...load) / mean <= 1.1 ? 'ok' : 'MISSED'})  min/mean ${(Math.min(...load) / mean).toFixed(3)}   ` +
          `changed/minimum: leave ${leaveRatio.toFixed(2)} (worst ${leaveWorst.toFixed(2)}), join ${joinRatio.toFixed(2)} (worst ${joinWorst.toFixed(2)}) ` +
          `(goal ≤ 2 ${Math.max(leaveWorst, joinWorst) <= 2 ? 'ok' : 'MISSED'})   ${name.startsWith('balanced') ? `assignment ${ms.toFixed(1)} ms` : `${clients} subsets ${ms.toFixed(1)} ms`}`,
      );
    }
    const worst = sweep(size);
    console.log(
      `size ${String(size).padStart(2)}  balanced, worst over ${servers - 10}..${servers + 10} servers: load max/mean ${worst.max.toFixed(3)}, ` +
        `changed/minimum leave ${worst.leave.toFixed(2)}, join ${worst.join.toFixed(2)} (goal ≤ 2 ${Math.max(worst.leave, worst.join) <= 2 ? 'ok' : 'MISSED'})`,
    );
  }
}

main();
