import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { memoryResolver, slowStart, weightedRoundRobin } from '../../src';
import { eventually, sleep, testBed, unary } from '../helpers/calls';

const { start, client } = testBed();

const WINDOW_MS = 2400;
const BIN_MS = 600;

describe('slowStart over real servers', () => {
  test('a server joining under load sees its share rise along the configured curve', async () => {
    const [s0, s1, s2, joining] = await start(4);
    const registry = memoryResolver();
    registry.set('echo', [s0.address, s1.address, s2.address]);
    const c = client({ resolver: registry, service: 'echo', balancer: slowStart({ balancer: weightedRoundRobin(), windowMs: WINDOW_MS }) });
    await eventually(() => c.endpoints().filter((e) => e.available).length === 3);

    const replies: { at: number; server: string }[] = [];
    let running = true;
    const load = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (running) replies.push({ server: (await unary(c)).server, at: performance.now() });
      }),
    );
    // The first three arrived together at start-up and ramp together; let them finish first.
    await sleep(WINDOW_MS + 100);
    registry.set('echo', [s0.address, s1.address, s2.address, joining.address]);
    await eventually(() => c.endpoints().filter((e) => e.available).length === 4, 5000, 'the new server ready');
    const arrived = performance.now();
    const before = replies.length;
    await sleep(WINDOW_MS + 900);
    running = false;
    await load;

    // Per call, the share the curve gives at its time (linear ramp from 10 %, weight f against 3 × 1).
    const expected = (t: number) => {
      const f = Math.max(0.1, Math.min(1, t / WINDOW_MS));
      return f / (3 + f);
    };
    const bins: { seen: number; expected: number; calls: number }[] = [];
    for (let from = 0; from < WINDOW_MS; from += BIN_MS) bins.push(bin(from, from + BIN_MS));
    const after = bin(WINDOW_MS + 200, WINDOW_MS + 900);
    function bin(from: number, to: number) {
      const inBin = replies.slice(before).filter((r) => r.at - arrived >= from && r.at - arrived < to);
      const seen = inBin.filter((r) => r.server === joining.name).length / inBin.length;
      return { seen, expected: inBin.reduce((sum, r) => sum + expected(r.at - arrived), 0) / inBin.length, calls: inBin.length };
    }
    const report = [...bins, after].map((b) => `${b.seen.toFixed(3)} (curve ${b.expected.toFixed(3)}, ${b.calls} calls)`).join('; ');
    for (const b of [...bins, after]) {
      assert.ok(b.calls >= 20, `too few calls to judge: ${report}`);
      assert.ok(Math.abs(b.seen - b.expected) < 0.07, `share of the joining server per ${BIN_MS} ms: ${report}`);
    }
    assert.ok(bins[3].seen - bins[0].seen > 0.1, `no ramp: ${report}`);
  });
});
