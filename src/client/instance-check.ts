import { parseAddress } from '../discovery/address';
import type { Instance } from '../resolver/types';
import { describeValue, excerpt, MAX_EXCERPT_CHARS } from '../core/text';

const DEFAULT_WEIGHT = 1;

/** An instance as the endpoint set keeps it: weight given. */
export interface WeightedInstance extends Instance {
  readonly weight: number;
}

/** What could be used of a resolver's list. */
export interface UsableInstances {
  /** By address; the first of two entries with one address wins (one channel per address). */
  readonly valid: Map<string, WeightedInstance>;
  /** Why each unusable entry was left out, in list order. */
  readonly problems: string[];
}

/** Sorts a resolver's list into usable instances and the reasons the others are not. */
export function usableInstances(instances: readonly Instance[]): UsableInstances {
  const valid = new Map<string, WeightedInstance>();
  const problems: string[] = [];
  for (const instance of instances) {
    const problem = checkInstance(instance);
    if (problem) {
      problems.push(problem);
      continue;
    }
    if (!valid.has(instance.address)) valid.set(instance.address, { ...instance, weight: instance.weight ?? DEFAULT_WEIGHT });
  }
  return { valid, problems };
}

/** Why a resolver's entry cannot be used, or undefined when it can; quotes input only bounded. */
function checkInstance(instance: Instance): string | undefined {
  if (instance === null || typeof instance !== 'object') return `${describeValue(instance)} is not an instance object`;
  const address: unknown = instance.address;
  if (typeof address !== 'string') return `instance address must be a "host:port" string, got ${describeValue(address)}`;
  const parsed = parseAddress(address);
  if (parsed instanceof Error) {
    // The parser's own words quote the address whole: only a short, printable one is quoted so.
    return address.length <= MAX_EXCERPT_CHARS && !/[\x00-\x1f\x7f]/.test(address) ? parsed.message : `instance address ${excerpt(address)} is not a usable "host:port"`;
  }
  const weight = instance.weight;
  if (weight !== undefined && !(typeof weight === 'number' && Number.isFinite(weight) && weight > 0)) {
    return `instance ${excerpt(instance.address)} has weight ${describeValue(weight)}; weights must be finite numbers > 0`;
  }
  return undefined;
}

export function sameTags(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) if (a[key] !== b[key]) return false;
  return true;
}
