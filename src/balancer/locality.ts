import { checkOptionsObject, integerOption, numberOption, stringOption } from '../core/options';
import { excerpt } from '../core/text';
import {
  AliasTable,
  EMPTY_PICKER,
  effectiveWeight,
  hasExclusions,
  randomSource,
} from './common';
import { carried } from './slow-start';
import type { Balancer, Endpoint, PickInfo, Picker } from './types';
import { weightedRoundRobin } from './weighted-round-robin';

/** Options of localityAware(). */
export interface LocalityAwareOptions {
  /** The caller's own zone, e.g. "us-east-1a". */
  zone: string;
  /** The instance tag holding an endpoint's zone (Consul service meta, an etcd value's tags). Default "zone". */
  zoneTag?: string;
  /** The balancer used inside a zone (and across all when there is no preference). Default weightedRoundRobin(). */
  balancer?: Balancer;
  /**
   * How the callers of the service are spread over zones, as relative numbers (counts or shares),
   * e.g. { a: 12, b: 12, c: 6 }. Default: evenly over the caller's zone and the zones that have
   * endpoints, as in a deployment spread evenly over zones.
   */
  callerZones?: Readonly<Record<string, number>>;
  /** Below this many endpoints in the picker, zones are ignored (Envoy's min_cluster_size). Default 6. */
  minEndpoints?: number;
  /** Uniform source in [0, 1). Default: a fast generator seeded from Math.random. */
  random?: () => number;
}

/** The default instance tag naming an endpoint's zone. */
export const DEFAULT_ZONE_TAG = 'zone';
/** Envoy's min_cluster_size: with fewer endpoints one zone's share moves in steps too coarse to plan with. */
export const DEFAULT_MIN_ENDPOINTS = 6;

/**
 * Zone-aware routing in the manner of Envoy: calls stay in the caller's zone while that zone can
 * carry the callers there, and spill over only as much as it cannot.
 *
 * With L the local zone's share of the available endpoints' weight and C the share of the callers
 * that sit in the local zone (`callerZones`, by default an even spread):
 * - L ≥ C: every call goes to the local zone (all of it is needed nowhere else);
 * - L < C (endpoints ejected, not serving, still connecting, or a smaller zone): a fraction L / C
 *   stays local and the rest goes to the other zones in proportion to their spare capacity —
 *   their share of the weight beyond their own callers' share — so that every zone ends up
 *   carrying what it can;
 * - no local endpoint available: all calls spread over the other zones by weight.
 * Endpoints without the zone tag form a zone of their own. Below `minEndpoints` available
 * endpoints zones are ignored.
 *
 * Picks cost the inner picker's pick, plus one random draw while spilling over; nothing allocates.
 * A retry that has tried every endpoint of the zone it was sent to is picked among all endpoints,
 * avoiding the ones it tried, so retries can leave a zone whose endpoints all failed the call.
 */
export function localityAware(options: LocalityAwareOptions): Balancer {
  const factory = 'localityAware';
  if (options === undefined || options === null) throw new TypeError(`${factory}: options with the caller's zone are required, e.g. { zone: "us-east-1a" }`);
  checkOptionsObject(factory, options);
  const zone = options.zone;
  if (typeof zone !== 'string' || zone.length === 0) throw new TypeError(`${factory}: options.zone must be the caller's zone, a non-empty string`);
  const zoneTag = stringOption(factory, 'options.zoneTag', options.zoneTag, DEFAULT_ZONE_TAG);
  const inner = options.balancer ?? weightedRoundRobin();
  if (!inner || typeof inner.build !== 'function') throw new TypeError(`${factory}: options.balancer must be a Balancer (an object with build())`);
  const callerZones = checkCallerZones(factory, options.callerZones);
  const minEndpoints = integerOption(factory, 'options.minEndpoints', options.minEndpoints, DEFAULT_MIN_ENDPOINTS, { min: 0 });
  const random = randomSource(factory, options.random);
  const plan: ZonePlan = { zone, zoneTag, callerZones };
  return Object.freeze({
    name: `locality_aware(${inner.name})`,
    ...carried(inner),
    build<E extends Endpoint>(endpoints: readonly E[]): Picker<E> {
      if (!Array.isArray(endpoints)) throw new TypeError('build(endpoints): endpoints must be an array');
      const live = endpoints.filter((endpoint) => effectiveWeight(endpoint) > 0);
      if (live.length === 0) return EMPTY_PICKER;
      if (live.length < minEndpoints) return inner.build(live);
      const split = splitByZone(live, plan);
      if (split.local === undefined) return inner.build(live);
      return new LocalityPicker(inner, live, split.local, split, random);
    },
  });
}

interface ZonePlan {
  readonly zone: string;
  readonly zoneTag: string;
  readonly callerZones: ReadonlyMap<string, number> | undefined;
}

/** Where calls go: the local endpoints with the share of calls they keep, the other zones by spare capacity. */
interface ZoneSplit<E extends Endpoint> {
  readonly local: E[] | undefined;
  /** Share of calls kept in the local zone, 0..1. */
  readonly localShare: number;
  readonly remote: E[][];
  /** Relative share of the spilled calls each remote zone takes. */
  readonly remoteShares: Float64Array;
}

/** The zone-aware plan for one set of endpoints. */
function splitByZone<E extends Endpoint>(endpoints: readonly E[], plan: ZonePlan): ZoneSplit<E> {
  const zones = new Map<string, { endpoints: E[]; weight: number }>();
  let total = 0;
  for (const endpoint of endpoints) {
    const tag = endpoint.tags?.[plan.zoneTag];
    const name = typeof tag === 'string' ? tag : '';
    let entry = zones.get(name);
    if (entry === undefined) zones.set(name, (entry = { endpoints: [], weight: 0 }));
    const weight = effectiveWeight(endpoint);
    entry.endpoints.push(endpoint);
    entry.weight += weight;
    total += weight;
  }
  const local = zones.get(plan.zone);
  const others = [...zones].filter(([name]) => name !== plan.zone);
  if (local === undefined) return { local: undefined, localShare: 0, remote: others.map(([, z]) => z.endpoints), remoteShares: new Float64Array(others.map(([, z]) => z.weight)) };
  const callers = callerShares(plan, zones);
  const capacity = local.weight / total;
  const wanted = callers.get(plan.zone) ?? 0;
  if (capacity >= wanted) return { local: local.endpoints, localShare: 1, remote: [], remoteShares: new Float64Array(0) };
  const spare = others.map(([name, z]) => Math.max(0, z.weight / total - (callers.get(name) ?? 0)));
  // Caller and endpoint spreads that disagree can leave no zone with spare capacity: spill by weight then.
  const anySpare = spare.some((s) => s > 0);
  return {
    local: local.endpoints,
    localShare: capacity / wanted,
    remote: others.map(([, z]) => z.endpoints),
    remoteShares: new Float64Array(anySpare ? spare : others.map(([, z]) => z.weight)),
  };
}

/** Share of the callers in each zone, summing to 1. */
function callerShares(plan: ZonePlan, zones: ReadonlyMap<string, unknown>): Map<string, number> {
  const shares = new Map<string, number>();
  if (plan.callerZones !== undefined) {
    let sum = 0;
    for (const value of plan.callerZones.values()) sum += value;
    for (const [name, value] of plan.callerZones) shares.set(name, value / sum);
    return shares;
  }
  const names = new Set<string>([plan.zone]);
  for (const name of zones.keys()) names.add(name);
  for (const name of names) shares.set(name, 1 / names.size);
  return shares;
}

function checkCallerZones(factory: string, value: unknown): ReadonlyMap<string, number> | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new TypeError(`${factory}: options.callerZones must be an object of zone → number`);
  const map = new Map<string, number>();
  let sum = 0;
  for (const [name, given] of Object.entries(value)) {
    // An entry present but undefined is checked as null: every listed zone needs a share.
    const share = numberOption(factory, `options.callerZones[${excerpt(name, 64)}]`, given ?? null, 0, { atLeast: 0 });
    map.set(name, share);
    sum += share;
  }
  if (sum <= 0) throw new TypeError(`${factory}: options.callerZones must give at least one zone a share > 0`);
  return map;
}

class LocalityPicker<E extends Endpoint> implements Picker<E> {
  private readonly local: Picker<E>;
  private readonly localShare: number;
  private readonly remote: Picker<E>[];
  private readonly remoteTable: AliasTable | undefined;
  private everywhere: Picker<E> | undefined;

  constructor(
    private readonly inner: Balancer,
    private readonly all: readonly E[],
    local: E[],
    split: ZoneSplit<E>,
    private readonly random: () => number,
  ) {
    this.local = inner.build(local);
    this.localShare = split.localShare;
    this.remote = split.remote.map((zone) => inner.build(zone));
    this.remoteTable = this.remote.length > 0 ? new AliasTable(split.remoteShares) : undefined;
  }

  pick(info: PickInfo): E | undefined {
    const table = this.remoteTable;
    const zone = this.localShare >= 1 || table === undefined || this.random() < this.localShare ? this.local : this.remote[table.sample(this.random)];
    const endpoint = zone.pick(info);
    const exclude = info.exclude;
    if (endpoint === undefined || (hasExclusions(exclude) && exclude.has(endpoint.address))) {
      return (this.everywhere ??= this.inner.build(this.all)).pick(info);
    }
    return endpoint;
  }
}
