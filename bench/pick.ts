/**
 * Cost and quality of the balancers' pickers, on plain endpoint objects.
 *
 *   npm run bench -- pick          (compiled, with --expose-gc)
 *
 * --expose-gc lets the heap figures start from a collected heap; without it (`npx tsx
 * bench/pick.ts`) they are still printed, marked as rough. Takes about 20 s.
 *
 * Prints, as ratios where a goal applies:
 *   - ns per pick at 10, 100, 1,000 and 10,000 endpoints, and the ratio to 10 (goal ≤ 2;
 *     consistent hash ≤ 3), with rotating pick info so nothing constant-folds;
 *   - heap growth over 1,000,000 picks at 1,000 endpoints (goal ≈ 0) and the GCs they caused;
 *   - picker build time at 1,000 and 10,000 endpoints;
 *   - consistent hash: busiest / mean keys over 1,000,000 keys on 10 endpoints (goal ≤ 1.15), and
 *     keys moved when an endpoint is added or removed / the ideal 1/n (goal ≈ 1);
 *   - weighted round robin with a long cycle (10,000 endpoints of weights 1..100): table size and
 *     the time to build it, spread over the first cycle's picks;
 *   - the wrappers (slow start while ramping, ORCA weights, zone-aware routing keeping every call
 *     local and spilling over) in the same rows, each against the balancer it wraps. Slow start is
 *     measured twice: every endpoint arriving together (the ramp changes no share), and a tenth of
 *     them joining 15 s after the rest (picks read the joiners through views at ramped weights);
 *     the build times of the second count its two builds.
 *
 *   npm run bench -- pick --only least,slow     (the rows whose name contains one of the texts; no other section)
 */
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import { consistentHash, leastConnection, localityAware, orcaWeighted, peakEwma, slowStart, weightedRandom, weightedRoundRobin } from '../src/balancer';
import type { Balancer, Endpoint, PickInfo, Picker } from '../src/balancer';

const SIZES = [10, 100, 1_000, 10_000];
const PICKS = 1_000_000;
const ROUNDS = 3;
const INFO_COUNT = 4096;

const gc = (globalThis as { gc?: () => void }).gc;
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;

interface BenchEndpoint extends Endpoint {
  inflight: number;
  latencyEwmaMs: number;
}

/** Zones for the zone-aware rows; the other balancers ignore tags. */
const ZONES = ['a', 'b', 'c'];

function makeEndpoints(n: number, weightOf: (i: number) => number = (i) => 1 + (i % 3)): BenchEndpoint[] {
  return Array.from({ length: n }, (_, i) => ({
    address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:50051`,
    weight: weightOf(i),
    tags: { zone: ZONES[i % 3] },
    inflight: i % 7,
    latencyEwmaMs: 5.5 + (i % 11) * 1.37,
  }));
}


// Many distinct keys and a few retries, so neither the hash nor the exclusion branch is constant.
const infos: PickInfo[] = Array.from({ length: INFO_COUNT }, (_, i) => ({
  method: '/bench.Service/Method',
  hashKey: `user-${(i * 7919) % 100_003}`,
  exclude: i % 64 === 63 ? new Set(['10.0.0.1:50051']) : undefined,
}));

/**
 * A slow start whose endpoints, but the last tenth, arrived 15 s (half its window) before each
 * build: they lead at half their weight, and the joiners ramp from 10 %.
 */
function joiningTenth(make: (now: () => number) => Balancer): Balancer {
  let shift = 0;
  const balancer = make(() => performance.now() + shift);
  return {
    name: balancer.name,
    build<E extends Endpoint>(list: readonly E[]): Picker<E> {
      shift = -15_000;
      balancer.build(list.slice(0, Math.ceil(list.length * 0.9)));
      shift = 0;
      return balancer.build(list);
    },
  };
}

const allBalancers: [string, () => Balancer, number][] = [
  ['weighted_round_robin', () => weightedRoundRobin(), 2],
  ['weighted_random', () => weightedRandom(), 2],
  ['consistent_hash', () => consistentHash(), 3],
  ['consistent_hash (bounded 1.25)', () => consistentHash({ loadFactor: 1.25 }), 3],
  ['least_connection', () => leastConnection(), 2],
  ['peak_ewma', () => peakEwma(), 2],
  // Every endpoint arrived at this build, so all are ramping: the wrapper's own cost is measured.
  ['slow_start(wrr), ramping', () => slowStart(), 2],
  ['slow_start(least_conn), ramping', () => slowStart({ balancer: leastConnection() }), 2],
  ['slow_start(wrr), 10% joining', () => joiningTenth((now) => slowStart({ now })), 2],
  ['slow_start(least_conn), 10% j.', () => joiningTenth((now) => slowStart({ balancer: leastConnection(), now })), 2],
  // No reports yet, so equal weights: the pick path is the same as with reports.
  ['orca_weighted(wrr)', () => orcaWeighted(), 2],
  ['locality_aware, all local', () => localityAware({ zone: 'a' }), 2],
  ['locality_aware, spilling', () => localityAware({ zone: 'a', callerZones: { a: 2, b: 1, c: 1 } }), 2],
];
const balancers = only === undefined ? allBalancers : allBalancers.filter(([name]) => only.split(',').some((part) => name.includes(part)));

let sink = 0;

function run(picker: Picker<BenchEndpoint>, picks: number): number {
  let checksum = 0;
  const started = process.hrtime.bigint();
  for (let k = 0; k < picks; k++) {
    const picked = picker.pick(infos[k & (INFO_COUNT - 1)]);
    if (picked !== undefined) checksum += picked.inflight;
  }
  const elapsed = Number(process.hrtime.bigint() - started);
  sink += checksum;
  return elapsed / picks;
}

function fixed(value: number, digits = 2): string {
  return value.toFixed(digits);
}

function pad(text: string, width: number): string {
  return text.padStart(width);
}

function pickCost(): void {
  console.log(`\nPick cost: ns per pick (best of ${ROUNDS} × ${PICKS.toLocaleString('en')} picks) and ratio to 10 endpoints`);
  console.log(`${'balancer'.padEnd(32)}${SIZES.map((n) => pad(`n=${n.toLocaleString('en')}`, 18)).join('')}   goal`);
  for (const [name, make, goal] of balancers) {
    const pickers = SIZES.map((n) => make().build(makeEndpoints(n)));
    const best = SIZES.map(() => Infinity);
    for (const picker of pickers) run(picker, PICKS / 5);
    for (let round = 0; round < ROUNDS; round++) {
      pickers.forEach((picker, s) => {
        best[s] = Math.min(best[s], run(picker, PICKS));
      });
    }
    const cells = best.map((ns) => pad(`${fixed(ns, 1)} ns ×${fixed(ns / best[0])}`, 18));
    const worst = Math.max(...best) / best[0];
    console.log(`${name.padEnd(32)}${cells.join('')}   ≤ ${goal} ${worst <= goal ? 'ok' : 'MISSED'}`);
  }
}

/** Bytes in use in V8's young generation, where every short-lived allocation lands first. */
function youngBytes(): number {
  for (const space of getHeapSpaceStatistics()) if (space.space_name === 'new_space') return space.space_used_size;
  return process.memoryUsage().heapUsed;
}

/** Lets pending GC performance entries be delivered to the observer. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 50));
}

async function heapGrowth(): Promise<void> {
  const chunk = 100_000;
  console.log(
    `\nHeap growth over ${PICKS.toLocaleString('en')} picks at 1,000 endpoints (young-generation bytes, in chunks of ` +
      `${chunk.toLocaleString('en')}${gc ? ' each after a full GC' : '; rough: run with node --expose-gc'}), and minor GCs during`,
  );
  let minorCollections = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if ((entry as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) {
        minorCollections++;
      }
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  // The first row measures the measuring: a picker that only returns a constant.
  const constant = makeEndpoints(1)[0];
  const baseline: Balancer = { name: 'constant', build: <E extends Endpoint>() => ({ pick: (): E | undefined => constant as Endpoint as E }) };
  for (const [name, make] of [['(baseline: constant picker)', () => baseline] as const, ...balancers]) {
    const picker = make().build(makeEndpoints(1_000));
    run(picker, PICKS / 5);
    await settle();
    const minorBefore = minorCollections;
    let grown = 0;
    for (let done = 0; done < PICKS; done += chunk) {
      gc?.();
      const before = youngBytes();
      run(picker, chunk);
      grown += Math.max(0, youngBytes() - before);
    }
    await settle();
    const minor = minorCollections - minorBefore;
    console.log(
      `${name.padEnd(32)}${pad(`${fixed(grown / 1024, 1)} KB`, 12)}  = ${pad(fixed(grown / PICKS, 3), 7)} B/pick   ` +
        `minor GCs: ${minor}${minor > 0 ? ' (bytes undercounted)' : ''}`,
    );
  }
  observer.disconnect();
}

function buildTime(): void {
  console.log('\nPicker build time (median)');
  console.log(`${'balancer'.padEnd(32)}${pad('n=1,000', 14)}${pad('n=10,000', 14)}`);
  for (const [name, make] of balancers) {
    const cells = [1_000, 10_000].map((n) => {
      const list = makeEndpoints(n);
      const balancer = make();
      const times: number[] = [];
      for (let r = 0; r < (n > 1_000 ? 5 : 21); r++) {
        const started = performance.now();
        const picker = balancer.build(list);
        times.push(performance.now() - started);
        sink += picker.pick(infos[r]) === undefined ? 0 : 1;
      }
      times.sort((a, b) => a - b);
      return pad(`${fixed(times[times.length >> 1], 3)} ms`, 14);
    });
    console.log(`${name.padEnd(32)}${cells.join('')}`);
  }
}

function ringQuality(): void {
  const keys = 1_000_000;
  const ten = makeEndpoints(11, () => 1);
  const base = consistentHash().build(ten.slice(0, 10));
  const added = consistentHash().build(ten);
  const removed = consistentHash().build(ten.slice(0, 10).filter((_, i) => i !== 4));
  const counts = new Map<string, number>();
  let movedOnAdd = 0;
  let movedOnRemove = 0;
  for (let k = 0; k < keys; k++) {
    const info: PickInfo = { method: '/bench.Service/Method', hashKey: `key-${k}` };
    const owner = base.pick(info)!.address;
    counts.set(owner, (counts.get(owner) ?? 0) + 1);
    if (added.pick(info)!.address !== owner) movedOnAdd++;
    if (removed.pick(info)!.address !== owner) movedOnRemove++;
  }
  const busiest = Math.max(...counts.values()) / (keys / 10);
  console.log(`\nConsistent hash over ${keys.toLocaleString('en')} keys, 10 endpoints, default ${'virtual nodes'}`);
  console.log(`  busiest / mean keys:              ${fixed(busiest, 3)}   goal ≤ 1.15 ${busiest <= 1.15 ? 'ok' : 'MISSED'}`);
  console.log(`  keys moved on +1 endpoint / ideal: ${fixed(movedOnAdd / (keys / 11), 3)}   (ideal: 1/11 of the keys)`);
  console.log(`  keys moved on −1 endpoint / ideal: ${fixed(movedOnRemove / (keys / 10), 3)}   (ideal: 1/10 of the keys)`);
}

function longCycle(): void {
  const list = makeEndpoints(10_000, (i) => 1 + (i % 100));
  const cycle = list.reduce((sum, e) => sum + e.weight, 0);
  let started = performance.now();
  const picker = weightedRoundRobin().build(list);
  const build = performance.now() - started;
  started = performance.now();
  for (let k = 0; k < cycle; k++) sink += picker.pick(infos[0])!.inflight;
  const firstCycle = performance.now() - started;
  const steady = run(picker, PICKS);
  console.log('\nWeighted round robin, 10,000 endpoints of weights 1..100');
  console.log(
    `  cycle ${cycle.toLocaleString('en')} slots (table ${fixed((cycle * 4) / 2 ** 20, 1)} MB); build ${fixed(build, 1)} ms; ` +
      `first cycle of picks ${fixed(firstCycle, 0)} ms (${fixed((firstCycle * 1e6) / cycle, 0)} ns/pick while scheduling); ` +
      `then ${fixed(steady, 1)} ns/pick`,
  );
}

async function main(): Promise<void> {
  const started = performance.now();
  console.log(`Node ${process.version}, gc ${gc ? 'exposed' : 'not exposed'}`);
  pickCost();
  await heapGrowth();
  if (only === undefined) {
    buildTime();
    ringQuality();
    longCycle();
  }
  console.log(`\n(${fixed((performance.now() - started) / 1000, 1)} s; checksum ${sink % 997})`);
}

void main();
