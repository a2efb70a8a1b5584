import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PickerRebuilds } from '../../../src/client/picker-rebuilds';

/** A rebuild schedule over a hand-driven clock, each build taking `cost` ms of it. */
function schedule(cost: number) {
  const clock = { t: 1_000 };
  const events: string[] = [];
  const rebuilds = new PickerRebuilds(
    () => clock.t,
    () => {
      events.push('build');
      clock.t += cost;
    },
    () => events.push('built'),
  );
  return { clock, events, rebuilds, builds: () => events.filter((e) => e === 'build').length };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('PickerRebuilds', () => {
  test('a change after a quick build rebuilds at once, and tells after each build', () => {
    const { events, rebuilds } = schedule(0);
    rebuilds.markDirty();
    rebuilds.markDirty();
    assert.deepEqual(events, ['build', 'built', 'build', 'built']);
    assert.equal(rebuilds.dirty, false);
  });

  test('a change right after a slow build is held back ten times its cost, then built once', async () => {
    const { clock, rebuilds, builds } = schedule(2);
    rebuilds.markDirty();
    assert.equal(builds(), 1);
    // 2 ms of building: the next one waits until 20 ms after the last ended.
    rebuilds.markDirty();
    rebuilds.markDirty();
    assert.equal(builds(), 1, 'held back');
    assert.equal(rebuilds.dirty, true, 'a pick sees that the picker is behind');
    clock.t += 20;
    await sleep(60);
    assert.equal(builds(), 2, 'one build for both changes');
    assert.equal(rebuilds.dirty, false);
  });

  test('the hold is capped, and rebuild() does not wait for it', () => {
    const { rebuilds, builds } = schedule(10_000);
    rebuilds.markDirty();
    rebuilds.markDirty();
    assert.equal(builds(), 1);
    rebuilds.rebuild();
    assert.equal(builds(), 2);
    rebuilds.stop();
  });

  test('a batch builds once at its end, and only when something changed', () => {
    const { rebuilds, builds } = schedule(0);
    rebuilds.batch(() => {
      assert.equal(rebuilds.inBatch, true);
      rebuilds.markDirty();
      rebuilds.markDirty();
      assert.equal(builds(), 0);
    });
    assert.equal(rebuilds.inBatch, false);
    assert.equal(builds(), 1);
    rebuilds.batch(() => undefined);
    assert.equal(builds(), 1);
  });

  test('after stop() nothing is built, held back or not', async () => {
    const { clock, rebuilds, builds } = schedule(5);
    rebuilds.markDirty();
    rebuilds.markDirty();
    rebuilds.stop();
    clock.t += 100;
    await sleep(70);
    rebuilds.markDirty();
    rebuilds.rebuild();
    assert.equal(builds(), 1);
  });
});
