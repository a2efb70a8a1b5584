import { excerpt } from '../core/text';
import { registerResolverScheme } from './target';
import type { Instance, Resolver, ResolverListener } from './types';

/** A resolver whose instances the program sets: for tests, and for wiring a custom registry in. */
export interface MemoryResolver extends Resolver {
  /** Replaces the instances of `service`; every watcher gets the new list. */
  set(service: string, instances: readonly (string | Instance)[]): void;
  /** Reports a resolution error to the watchers of `service` (they keep their last good list). */
  fail(service: string, error: Error): void;
  /** The current instances of `service`, or undefined if never set. */
  get(service: string): Instance[] | undefined;
  /** How many watches of `service` are active. */
  watchers(service: string): number;
}

function toInstance(entry: string | Instance): Instance {
  if (typeof entry === 'string') return { address: entry };
  const copy = { ...entry };
  if (entry.tags) copy.tags = { ...entry.tags };
  return copy;
}

/** A new, empty in-memory resolver. */
export function memoryResolver(): MemoryResolver {
  const lists = new Map<string, Instance[]>();
  const listeners = new Map<string, Set<ResolverListener>>();
  const copy = (list: Instance[]) => list.map(toInstance);

  return {
    set(service, instances) {
      if (typeof service !== 'string' || service.length === 0) throw new TypeError('memoryResolver.set: service must be a non-empty string');
      if (!Array.isArray(instances)) throw new TypeError(`memoryResolver.set(${excerpt(service)}): instances must be an array`);
      const list = instances.map(toInstance);
      lists.set(service, list);
      for (const listener of listeners.get(service) ?? []) listener.onUpdate(copy(list));
    },
    fail(service, error) {
      for (const listener of listeners.get(service) ?? []) listener.onError(error);
    },
    get(service) {
      const list = lists.get(service);
      return list && copy(list);
    },
    watchers(service) {
      return listeners.get(service)?.size ?? 0;
    },
    watch(service, listener) {
      let set = listeners.get(service);
      if (!set) listeners.set(service, (set = new Set()));
      set.add(listener);
      let active = true;
      queueMicrotask(() => {
        const list = lists.get(service);
        if (active && list) listener.onUpdate(copy(list));
      });
      return () => {
        active = false;
        set.delete(listener);
        if (set.size === 0 && listeners.get(service) === set) listeners.delete(service);
      };
    },
  };
}

let shared: MemoryResolver | undefined;

/** The process-wide in-memory resolver behind `memory:///service` targets. */
export function sharedMemoryResolver(): MemoryResolver {
  return (shared ??= memoryResolver());
}

registerResolverScheme('memory', (target) => {
  if (!target.path) throw new TypeError(`target ${excerpt(target.text)} names no service; expected "memory:///service-name"`);
  return { resolver: sharedMemoryResolver(), service: target.path };
});
