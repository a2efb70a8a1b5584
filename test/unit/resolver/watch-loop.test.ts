import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { listKey, startWatchLoop, type WatchAnswer } from '../../../src/resolver/watch-loop';
import type { Instance, ResolverListener } from '../../../src/resolver/types';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `check` holds (timers may run late on a busy machine), failing after 5 s. */
async function until(check: () => boolean, what: string): Promise<void> {
  for (const deadline = Date.now() + 5_000; !check(); await sleep(5)) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for: ${what}`);
  }
}

function recorder() {
  const updates: Instance[][] = [];
  const errors: Error[] = [];
  const listener: ResolverListener = { onUpdate: (list) => updates.push(list), onError: (error) => errors.push(error) };
  return { listener, updates, errors };
}

/** A read that answers from a script, one step per call; a step that is an Error is thrown. */
function scripted(steps: (WatchAnswer | Error)[]) {
  let calls = 0;
  const read = async () => {
    const step = steps[Math.min(calls++, steps.length - 1)];
    if (step instanceof Error) throw step;
    return step;
  };
  return { read, calls: () => calls };
}

const options = { backoff: { initialMs: 20, maxMs: 40 }, random: () => 0, now: Date.now, emptyError: () => new Error('no instances') };

describe('watch loop', () => {
  test('lists are compared without regard to order, of instances or of tags', () => {
    const a: Instance = { address: '10.0.0.1:1', weight: 2, tags: { x: '1', y: '2' } };
    const b: Instance = { address: '10.0.0.2:1', id: 'b' };
    assert.equal(listKey([a, b]), listKey([b, { address: '10.0.0.1:1', weight: 2, tags: { y: '2', x: '1' } }]));
    assert.notEqual(listKey([a, b]), listKey([a, { ...b, weight: 3 }]));
    assert.notEqual(listKey([a]), listKey([a, a]));
  });

  test('delivers a list once per change, sorted by address, whatever the order of the answers', async () => {
    const { listener, updates, errors } = recorder();
    const x = { address: '10.0.0.2:1' };
    const y = { address: '10.0.0.1:1' };
    const { read, calls } = scripted([
      { instances: [x, y], nextMs: 5 },
      { instances: [y, x], nextMs: 5 },
      { instances: [x], nextMs: 5 },
    ]);
    const loop = startWatchLoop(listener, options, read);
    await until(() => calls() >= 4, 'four reads');
    loop.stop();
    assert.deepEqual(updates, [[y, x], [x]]);
    assert.deepEqual(errors, []);
  });

  test('a failure is reported, the read retried after backoff, and the recovery delivered even if unchanged', async () => {
    const { listener, updates, errors } = recorder();
    const list = { instances: [{ address: '10.0.0.1:1' }], nextMs: 10_000 };
    const { read, calls } = scripted([list, new Error('down'), new Error('still down'), list]);
    const started = Date.now();
    const loop = startWatchLoop(listener, options, read);
    await until(() => updates.length === 1, 'the first list');
    loop.refresh();
    await until(() => calls() === 4, 'two retries and a recovery');
    loop.stop();
    assert.deepEqual(errors.map((e) => e.message), ['down', 'still down']);
    assert.equal(updates.length, 2, 'the list again after the failures');
    // Backoff with random 0: 10 ms after the first failure, 20 ms after the second.
    assert.ok(Date.now() - started >= 30);
  });

  test('an empty answer is reported, not delivered; the last list stays', async () => {
    const { listener, updates, errors } = recorder();
    const { read } = scripted([{ instances: [{ address: '10.0.0.1:1' }], nextMs: 5 }, { instances: [], nextMs: 5 }]);
    const loop = startWatchLoop(listener, options, read);
    await until(() => errors.length > 0, 'the empty answer');
    await sleep(50);
    loop.stop();
    assert.equal(updates.length, 1);
    assert.deepEqual(errors.map((e) => e.message), ['no instances'], 'reported once, not per read');
  });

  test('problems are reported once per distinct message', async () => {
    const { listener, errors } = recorder();
    const instances = [{ address: '10.0.0.1:1' }];
    const { read } = scripted([
      { instances, problem: new Error('bad a'), nextMs: 5 },
      { instances, problem: new Error('bad a'), nextMs: 5 },
      { instances, problem: new Error('bad b'), nextMs: 5 },
    ]);
    const loop = startWatchLoop(listener, options, read);
    await until(() => errors.length === 2, 'two problems');
    await sleep(30);
    loop.stop();
    assert.deepEqual(errors.map((e) => e.message), ['bad a', 'bad b']);
  });

  test('refresh() brings the next read forward; an endless wait ends only by it; stop() ends the loop', async () => {
    const { listener, updates } = recorder();
    let n = 0;
    const loop = startWatchLoop(listener, options, async () => ({ instances: [{ address: `10.0.0.${++n}:1` }], nextMs: Infinity }));
    await until(() => n === 1, 'the first read');
    await sleep(30);
    assert.equal(n, 1, 'an endless wait');
    const asked = Date.now();
    loop.refresh(asked + 50);
    await until(() => n === 2, 'the read asked for');
    assert.ok(Date.now() - asked >= 45, 'not before the time asked for');
    loop.publish({ instances: [{ address: '10.0.0.9:1' }] });
    assert.equal(updates.at(-1)?.[0].address, '10.0.0.9:1', 'a pushed list is delivered');
    loop.stop();
    await loop.done;
    loop.refresh();
    await sleep(10);
    assert.equal(n, 2, 'no read after stop');
  });
});
