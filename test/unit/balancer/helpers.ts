import type { Endpoint, PickInfo, Picker } from '../../../src/balancer/types';

/** A plain endpoint whose live fields a test can change. */
export interface TestEndpoint extends Endpoint {
  weight: number;
  inflight: number;
  latencyEwmaMs?: number;
}

/** Mulberry32: a small seeded PRNG with full 2^32 period, uniform in [0, 1). */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function endpoint(address: string, weight = 1, extra: Partial<TestEndpoint> = {}): TestEndpoint {
  return { address, weight, tags: {}, inflight: 0, ...extra };
}

/** Endpoints "10.0.0.<i>:50051" with the given weights. */
export function endpoints(weights: readonly number[]): TestEndpoint[] {
  return weights.map((weight, i) => endpoint(`10.0.${i >> 8}.${i & 255}:50051`, weight));
}

export const CALL: PickInfo = { method: '/test.Echo/Unary' };

export function call(extra: Partial<PickInfo> = {}): PickInfo {
  return { method: '/test.Echo/Unary', ...extra };
}

/** Addresses of `count` picks in order. */
export function pickMany<E extends Endpoint>(picker: Picker<E>, count: number, info: PickInfo = CALL): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const picked = picker.pick(info);
    if (picked === undefined) throw new Error('pick returned undefined');
    out.push(picked.address);
  }
  return out;
}

/** How many times each address occurs. */
export function histogram(addresses: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const address of addresses) counts.set(address, (counts.get(address) ?? 0) + 1);
  return counts;
}

/** Longest run of `address` in `sequence` read as a cycle. */
export function longestCyclicRun(sequence: readonly string[], address: string): number {
  let best = 0;
  let run = 0;
  for (let i = 0; i < 2 * sequence.length; i++) {
    if (sequence[i % sequence.length] === address) {
      run++;
      best = Math.max(best, Math.min(run, sequence.length));
    } else {
      run = 0;
    }
  }
  return best;
}
