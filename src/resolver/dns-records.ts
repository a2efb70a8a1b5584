import { isIP } from 'node:net';
import { formatAddress } from '../discovery/address';
import { DnsError, isNoRecords } from './dns-error';
import { normalizeName, query, RCODE_NXDOMAIN, type QueryOptions, type QueryType, type SrvData } from './dns-transport';
import type { Instance } from './types';

// What the records of a name mean for a list of instances: A/AAAA addresses with CNAMEs followed,
// or SRV records (RFC 2782) with their targets' addresses.

export interface Resolution {
  readonly instances: Instance[];
  /** Shortest TTL among the records the answer rests on, in seconds. */
  readonly ttl: number;
  /** Something went wrong for part of the answer; the rest is still good. */
  readonly partial?: Error;
}

export type DnsFamily = 'ipv4' | 'ipv6' | 'any';

/** Addresses of `name`: A and/or AAAA, CNAMEs followed by the server. */
export async function lookupAddresses(name: string, family: DnsFamily, options: QueryOptions): Promise<{ addresses: string[]; ttl: number; partial?: Error }> {
  const types: QueryType[] = family === 'ipv4' ? ['A'] : family === 'ipv6' ? ['AAAA'] : ['A', 'AAAA'];
  const outcomes = await Promise.allSettled(types.map((type) => query(name, type, options)));
  const addresses: string[] = [];
  let ttl = Infinity;
  let hardError: Error | undefined;
  let noRecords: DnsError | undefined;
  outcomes.forEach((outcome, i) => {
    const type = types[i];
    if (outcome.status === 'rejected') {
      if ((outcome.reason as DnsError).code === 'ABORTED') throw outcome.reason;
      hardError ??= outcome.reason as Error;
      return;
    }
    const message = outcome.value;
    if (message.rcode === RCODE_NXDOMAIN) {
      noRecords = new DnsError(`dns ${type} "${name}": NXDOMAIN (no such name)`, 'NXDOMAIN');
      return;
    }
    let found = 0;
    for (const record of message.answers) {
      if (record.type === 'CNAME') ttl = Math.min(ttl, record.ttl);
      if (record.type !== type || typeof record.data !== 'string') continue;
      ttl = Math.min(ttl, record.ttl);
      found++;
      if (!addresses.includes(record.data)) addresses.push(record.data);
    }
    if (found === 0) noRecords ??= new DnsError(`dns ${type} "${name}": no ${type} records (NODATA)`, 'NODATA');
  });
  if (addresses.length === 0) {
    throw hardError ?? (types.length > 1 ? new DnsError(`dns "${name}": no A or AAAA records (${noRecords?.code ?? 'NODATA'})`, noRecords?.code ?? 'NODATA') : noRecords!);
  }
  return { addresses, ttl, partial: hardError };
}

/** RFC 2782: the lowest priority group only; weight 0 records only when the whole group has 0. */
function pickSrvGroup(records: readonly (SrvData & { ttl: number })[]): (SrvData & { ttl: number })[] {
  let lowest = Infinity;
  for (const record of records) lowest = Math.min(lowest, record.priority);
  const group = records.filter((record) => record.priority === lowest);
  const weighted = group.filter((record) => record.weight > 0);
  return weighted.length > 0 ? weighted : group.map((record) => ({ ...record, weight: 1 }));
}

export async function resolveSrv(name: string, family: DnsFamily, options: QueryOptions): Promise<Resolution> {
  const message = await query(name, 'SRV', options);
  if (message.rcode === RCODE_NXDOMAIN) throw new DnsError(`dns SRV "${name}": NXDOMAIN (no such name)`, 'NXDOMAIN');
  let ttl = Infinity;
  const records: (SrvData & { ttl: number })[] = [];
  for (const record of message.answers) {
    if (record.type === 'CNAME') ttl = Math.min(ttl, record.ttl);
    if (record.type !== 'SRV' || typeof record.data !== 'object' || record.data === undefined) continue;
    ttl = Math.min(ttl, record.ttl);
    // A target of "." says the service is decidedly not available at this name (RFC 2782).
    if (record.data.target === '' || record.data.port === 0) continue;
    records.push({ ...record.data, ttl: record.ttl });
  }
  if (records.length === 0) throw new DnsError(`dns SRV "${name}": no usable SRV records (NODATA)`, 'NODATA');
  const group = pickSrvGroup(records);

  // Addresses the server sent along in the additional section save a query per target.
  const wanted: string[] = family === 'ipv4' ? ['A'] : family === 'ipv6' ? ['AAAA'] : ['A', 'AAAA'];
  const extra = new Map<string, { addresses: string[]; ttl: number }>();
  for (const record of message.additionals) {
    if (!wanted.includes(record.type) || typeof record.data !== 'string') continue;
    const key = normalizeName(record.name);
    const entry = extra.get(key) ?? { addresses: [], ttl: Infinity };
    if (!entry.addresses.includes(record.data)) entry.addresses.push(record.data);
    entry.ttl = Math.min(entry.ttl, record.ttl);
    extra.set(key, entry);
  }

  const targets = [...new Set(group.map((record) => normalizeName(record.target)))];
  const lookups = await Promise.allSettled(
    targets.map(async (target): Promise<{ addresses: string[]; ttl: number; partial?: Error }> => {
      if (isIP(target)) return { addresses: [target], ttl: Infinity };
      return extra.get(target) ?? lookupAddresses(target, family, options);
    }),
  );
  const addressesOf = new Map<string, string[]>();
  const problems: string[] = [];
  let hardError: DnsError | undefined;
  lookups.forEach((outcome, i) => {
    if (outcome.status === 'rejected') {
      if ((outcome.reason as DnsError).code === 'ABORTED') throw outcome.reason;
      if (!isNoRecords(outcome.reason)) hardError ??= outcome.reason as DnsError;
      problems.push((outcome.reason as Error).message);
      return;
    }
    ttl = Math.min(ttl, outcome.value.ttl);
    addressesOf.set(targets[i], outcome.value.addresses);
    if (outcome.value.partial) problems.push(outcome.value.partial.message);
  });

  const instances: Instance[] = [];
  const seen = new Set<string>();
  for (const record of group) {
    // Every address of a target carries the target's weight.
    for (const host of addressesOf.get(normalizeName(record.target)) ?? []) {
      const address = formatAddress(host, record.port);
      if (seen.has(address)) continue;
      seen.add(address);
      instances.push({ address, weight: record.weight });
    }
  }
  if (instances.length === 0) {
    throw new DnsError(`dns SRV "${name}": none of its targets resolved: ${problems.slice(0, 3).join('; ')}`, hardError?.code ?? 'NODATA');
  }
  const partial =
    problems.length > 0 ? new DnsError(`dns SRV "${name}": some targets did not resolve: ${problems.slice(0, 3).join('; ')}`, hardError?.code ?? 'NODATA') : undefined;
  return { instances, ttl, partial };
}

export async function resolveHost(host: string, port: number, family: DnsFamily, options: QueryOptions): Promise<Resolution> {
  const { addresses, ttl, partial } = await lookupAddresses(host, family, options);
  return { instances: addresses.map((address) => ({ address: formatAddress(address, port) })), ttl, partial };
}
