import { formatAddress, parseAddress } from '../discovery/address';
import { describeValue, excerpt } from '../core/text';
import type { Instance } from './types';

type HealthStatus = 'passing' | 'warning' | 'critical';

/** The worst status among an entry's checks (node checks included, as Consul's own `passing` filter does). */
function aggregateStatus(checks: unknown): HealthStatus {
  if (!Array.isArray(checks)) return 'passing';
  let status: HealthStatus = 'passing';
  for (const check of checks) {
    const value = check && typeof check === 'object' ? (check as { Status?: unknown }).Status : undefined;
    if (value === 'passing') continue;
    if (value === 'warning') status = 'warning';
    // Anything else ("critical", "maintenance", a status this code does not know) keeps the
    // instance out: sending calls to an instance of unknown health is the unsafe side.
    else return 'critical';
  }
  return status;
}

/**
 * Turns a `/v1/health/service/<name>` answer into instances. Consul tags map to keys with an
 * empty value (tag "v1" → tags["v1"] = ""), service meta to key/value pairs (meta wins when a
 * key is both). Instances whose weight for their health state is 0 are left out: that is how a
 * Consul operator says "no traffic while warning".
 */
export function consulHealthToInstances(entries: unknown, onlyPassing: boolean): { instances: Instance[]; problems: string[] } {
  if (!Array.isArray(entries)) throw new TypeError(`expected a JSON array of health entries, got ${entries === null ? 'null' : typeof entries}`);
  const instances: Instance[] = [];
  const problems: string[] = [];
  for (const entry of entries as unknown[]) {
    const service = entry && typeof entry === 'object' ? (entry as { Service?: unknown }).Service : undefined;
    if (!service || typeof service !== 'object') {
      problems.push('an entry without a Service object');
      continue;
    }
    const s = service as {
      ID?: unknown;
      Address?: unknown;
      Port?: unknown;
      Tags?: unknown;
      Meta?: unknown;
      Weights?: { Passing?: unknown; Warning?: unknown } | null;
    };
    const id = typeof s.ID === 'string' ? s.ID : undefined;
    const label = id ? `instance ${excerpt(id)}` : 'an instance';
    const status = aggregateStatus((entry as { Checks?: unknown }).Checks);
    if (status === 'critical' || (status === 'warning' && onlyPassing)) continue;

    const node = (entry as { Node?: { Address?: unknown } | null }).Node;
    let host = typeof s.Address === 'string' && s.Address.length > 0 ? s.Address : typeof node?.Address === 'string' ? node.Address : '';
    if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
    if (!host) {
      problems.push(`${label} has no address and neither has its node`);
      continue;
    }
    if (typeof s.Port !== 'number' || !Number.isInteger(s.Port) || s.Port < 1 || s.Port > 65535) {
      problems.push(`${label} has port ${describeValue(s.Port)}, expected 1-65535`);
      continue;
    }
    const address = formatAddress(host, s.Port);
    const checked = parseAddress(address);
    if (checked instanceof Error) {
      problems.push(`${label}: ${checked.message}`);
      continue;
    }
    // Agents older than Consul 1.2.3 send no Weights; Consul's own default is 1 for both states.
    const raw = s.Weights == null ? 1 : status === 'passing' ? s.Weights.Passing : s.Weights.Warning;
    const weight = raw === undefined ? 1 : raw;
    if (weight === 0) continue;
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) {
      problems.push(`${label} has weight ${describeValue(weight)}, expected a number >= 0`);
      continue;
    }
    const tags: Record<string, string> = {};
    if (Array.isArray(s.Tags)) for (const tag of s.Tags) if (typeof tag === 'string') tags[tag] = '';
    if (s.Meta && typeof s.Meta === 'object') {
      for (const [key, value] of Object.entries(s.Meta as Record<string, unknown>)) if (typeof value === 'string') tags[key] = value;
    }
    instances.push(id === undefined ? { address, weight, tags } : { address, weight, tags, id });
  }
  instances.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : (a.id ?? '') < (b.id ?? '') ? -1 : 1));
  return { instances, problems };
}
