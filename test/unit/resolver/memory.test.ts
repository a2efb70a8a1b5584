import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { memoryResolver, staticResolver, type Instance } from '../../../src';

function collector() {
  const updates: Instance[][] = [];
  const errors: string[] = [];
  return { updates, errors, listener: { onUpdate: (l: Instance[]) => updates.push(l), onError: (e: Error) => errors.push(e.message) } };
}

describe('memoryResolver', () => {
  test('delivers the current list on watch and every change after, to every watcher', async () => {
    const r = memoryResolver();
    r.set('svc', ['10.0.0.1:1']);
    const a = collector();
    const b = collector();
    const stopA = r.watch('svc', a.listener);
    r.watch('svc', b.listener);
    await Promise.resolve();
    r.set('svc', [{ address: '10.0.0.2:2', weight: 5, tags: { zone: 'a' } }]);
    assert.deepEqual(a.updates, [[{ address: '10.0.0.1:1' }], [{ address: '10.0.0.2:2', weight: 5, tags: { zone: 'a' } }]]);
    assert.equal(b.updates.length, 2);
    stopA();
    r.set('svc', []);
    assert.equal(a.updates.length, 2, 'a stopped watch gets nothing more');
    assert.equal(b.updates.length, 3);
    assert.equal(r.watchers('svc'), 1);
  });

  test('reports errors; lists handed out are copies', async () => {
    const r = memoryResolver();
    const a = collector();
    r.watch('svc', a.listener);
    r.fail('svc', new Error('boom'));
    assert.deepEqual(a.errors, ['boom']);
    r.set('svc', [{ address: '10.0.0.1:1', tags: { k: 'v' } }]);
    a.updates[0][0].tags!.k = 'changed';
    assert.equal(r.get('svc')![0].tags!.k, 'v');
  });

  test('bad arguments throw naming the field', () => {
    const r = memoryResolver();
    assert.throws(() => r.set('', []), /service must be a non-empty string/);
    assert.throws(() => r.set('svc', 'x' as never), /instances must be an array/);
  });
});

describe('staticResolver', () => {
  test('checks addresses at construction', () => {
    assert.throws(() => staticResolver(['10.0.0.1:1', 'oops']), /instances\[1\]: address "oops" has no port/);
    assert.throws(() => staticResolver('10.0.0.1:1' as never), /must be an array/);
  });

  test('delivers its list asynchronously, not after stop', async () => {
    const r = staticResolver(['10.0.0.1:1', { address: '[::1]:2', weight: 2 }]);
    const a = collector();
    r.watch('x', a.listener);
    assert.equal(a.updates.length, 0);
    await Promise.resolve();
    assert.deepEqual(a.updates, [[{ address: '10.0.0.1:1' }, { address: '[::1]:2', weight: 2 }]]);
    const b = collector();
    r.watch('x', b.listener)();
    await Promise.resolve();
    assert.equal(b.updates.length, 0);
  });
});
