import { excerpt } from '../core/text';
import { parseAddress } from '../discovery/address';
import { registerResolverScheme } from './target';
import type { Instance, Resolver } from './types';

/**
 * A fixed list of instances. Addresses are checked here, so a typo throws at construction with
 * the bad entry named instead of failing every call later.
 */
export function staticResolver(instances: readonly (string | Instance)[]): Resolver {
  if (!Array.isArray(instances)) {
    throw new TypeError('staticResolver(instances): instances must be an array of "host:port" strings or Instance objects');
  }
  const list: Instance[] = instances.map((entry, i) => {
    const instance = typeof entry === 'string' ? { address: entry.trim() } : { ...entry };
    if (instance === null || typeof instance !== 'object') {
      throw new TypeError(`staticResolver: instances[${i}] must be a "host:port" string or an Instance object`);
    }
    const parsed = parseAddress(instance.address);
    if (parsed instanceof Error) throw new TypeError(`staticResolver: instances[${i}]: ${parsed.message}`);
    return instance;
  });
  return {
    watch(_service, listener) {
      // Asynchronous like every other resolver, so callers never see a listener fire inside watch().
      let stopped = false;
      queueMicrotask(() => {
        if (!stopped) listener.onUpdate(list.map((instance) => ({ ...instance })));
      });
      return () => {
        stopped = true;
      };
    },
  };
}

registerResolverScheme('static', (target) => {
  const addresses = target.path
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (addresses.length === 0) throw new TypeError(`target ${excerpt(target.text)} lists no addresses`);
  return { resolver: staticResolver(addresses), service: target.path };
});
