import { oneOfOption } from '../core/options';
import { describeValue, excerpt } from '../core/text';
import { parseAddress } from './address';
import type { Instance } from '../core/instance';

// How instances are laid out in etcd. Three layouts are spoken, so that a Node client can call Go
// and Kitex services registered the way they already are, and they can discover ours:
//
//   grpc-lb-kit  /services/<name>/<host:port>            {"address":"h:p","weight":1,"tags":["v1"],"meta":{"zone":"a"}}
//   grpc-go      <name>/<anything>                       {"Op":0,"Addr":"h:p","Metadata":…}   (go.etcd.io/etcd/client/v3/naming/endpoints)
//   kitex        kitex/registry-etcd/<name>/<host:port>   {"network":"tcp","address":"h:p","weight":10,"tags":{…}}   (kitex-contrib/registry-etcd)
//
// In every layout the value's address is the one dialled; the key only has to be unique.

/** The key layouts an etcd resolver reads and an etcd registry writes. */
export type EtcdKeyFormat = 'grpc-lb-kit' | 'grpc-go' | 'kitex';

export const ETCD_KEY_FORMATS: readonly EtcdKeyFormat[] = Object.freeze(['grpc-lb-kit', 'grpc-go', 'kitex']);

/** The text before `<name>/` in each layout's keys. */
export const DEFAULT_ETCD_PREFIXES: Readonly<Record<EtcdKeyFormat, string>> = Object.freeze({
  'grpc-lb-kit': '/services/',
  'grpc-go': '',
  kitex: 'kitex/registry-etcd/',
});

/** kitex-contrib/registry-etcd's resolver gives instances without a weight Kitex's default weight. */
const KITEX_DEFAULT_WEIGHT = 10;
/** grpc-go's endpoints.Operation: 0 adds an endpoint, 1 deletes one. */
const GRPC_GO_OP_ADD = 0;
/** An instance value is a few hundred bytes; far beyond that is not an instance. */
const MAX_VALUE_BYTES = 64 * 1024;

/** What a registry writes for one instance. */
export interface EtcdInstanceRecord {
  /** "host:port", IPv6 in brackets. */
  readonly address: string;
  readonly weight: number;
  readonly tags: readonly string[];
  readonly meta: Readonly<Record<string, string>>;
}

/** One layout: where a service's keys live and how a value reads and writes. */
export interface EtcdLayout {
  readonly format: EtcdKeyFormat;
  /** Every key of `service` starts with this (ends in "/"). */
  servicePrefix(service: string): string;
  /** The key of one instance. */
  key(service: string, address: string): string;
  /** The value of one instance. */
  encode(record: EtcdInstanceRecord): string;
  /**
   * The instance a key/value pair describes; `undefined` when the pair is deliberately not an
   * instance (weight 0, a grpc-go delete record, a key of a nested service name); an Error naming
   * the problem when it is malformed.
   */
  decode(service: string, key: string, value: Buffer | string): Instance | Error | undefined;
}

/** The layout for `format`, with `prefix` (text before `<name>/`) replacing the format's default. */
export function etcdLayout(formatOption?: EtcdKeyFormat, prefix?: string, where = 'etcd'): EtcdLayout {
  const format = oneOfOption(where, 'format', formatOption, 'grpc-lb-kit', ETCD_KEY_FORMATS);
  // The one name-like option that may be empty: grpc-go's keys start with the service name.
  if (prefix !== undefined && (typeof prefix !== 'string' || /[\u0000-\u001f]/.test(prefix))) {
    throw new TypeError(`${where}: prefix must be a string without control characters, got ${describeValue(prefix)}`);
  }
  const root = prefix ?? DEFAULT_ETCD_PREFIXES[format];
  const servicePrefix = (service: string) => `${root}${service}/`;
  // grpc-go's own resolver takes every key under `<name>/`; the other two write exactly
  // `<name>/<host:port>`, so a deeper key belongs to another service whose name extends this one.
  const nestedKeysAreOthers = format !== 'grpc-go';
  return {
    format,
    servicePrefix,
    key: (service, address) => `${servicePrefix(service)}${address}`,
    encode: (record) => encoders[format](record),
    decode(service, key, value) {
      const rest = key.slice(servicePrefix(service).length);
      if (nestedKeysAreOthers && rest.includes('/')) return undefined;
      const text = typeof value === 'string' ? value : value.toString('utf8');
      if (text.length > MAX_VALUE_BYTES) return new Error(`key ${excerpt(key)}: value of ${text.length} bytes is too long for an instance`);
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        return new Error(`key ${excerpt(key)}: value is not JSON (${excerpt(text, 60)})`);
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        return new Error(`key ${excerpt(key)}: value is not a JSON object`);
      }
      const instance = decoders[format](parsed as Record<string, unknown>, key);
      if (instance === undefined || instance instanceof Error) return instance;
      return { ...instance, id: key };
    },
  };
}

function metaObject(record: EtcdInstanceRecord): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const tag of record.tags) tags[tag] = '';
  return Object.assign(tags, record.meta);
}

const encoders: Record<EtcdKeyFormat, (record: EtcdInstanceRecord) => string> = {
  'grpc-lb-kit': (r) => JSON.stringify({ address: r.address, weight: r.weight, tags: r.tags, meta: r.meta }),
  'grpc-go': (r) => JSON.stringify({ Op: GRPC_GO_OP_ADD, Addr: r.address, Metadata: { ...metaObject(r), weight: String(r.weight) } }),
  kitex: (r) => JSON.stringify({ network: 'tcp', address: r.address, weight: r.weight, tags: metaObject(r) }),
};

type Decoded = Omit<Instance, 'id'> | Error | undefined;

const decoders: Record<EtcdKeyFormat, (value: Record<string, unknown>, key: string) => Decoded> = {
  'grpc-lb-kit'(value, key) {
    const tags: Record<string, string> = {};
    if (Array.isArray(value.tags)) {
      for (const tag of value.tags) if (typeof tag === 'string') tags[tag] = '';
    } else {
      copyStrings(value.tags, tags);
    }
    copyStrings(value.meta, tags);
    return instance(key, value.address, value.weight, 1, tags);
  },
  'grpc-go'(value, key) {
    if (value.Op !== undefined && value.Op !== GRPC_GO_OP_ADD) return undefined;
    const tags: Record<string, string> = {};
    copyStrings(value.Metadata, tags);
    // grpc-go keeps weights out of etcd; one written by a registry as Metadata.weight is honoured.
    const weight = tags.weight !== undefined && /^\d+(\.\d+)?$/.test(tags.weight) ? Number(tags.weight) : undefined;
    delete tags.weight;
    return instance(key, value.Addr, weight, 1, tags);
  },
  kitex(value, key) {
    const network = value.network ?? 'tcp';
    if (network !== 'tcp' && network !== 'tcp4' && network !== 'tcp6') {
      return new Error(`key ${excerpt(key)}: network ${excerpt(network)} cannot be dialled over gRPC (expected tcp)`);
    }
    const tags: Record<string, string> = {};
    copyStrings(value.tags, tags);
    return instance(key, value.address, value.weight, KITEX_DEFAULT_WEIGHT, tags);
  },
};

function copyStrings(from: unknown, to: Record<string, string>): void {
  if (from === null || typeof from !== 'object' || Array.isArray(from)) return;
  for (const [k, v] of Object.entries(from as Record<string, unknown>)) if (typeof v === 'string') to[k] = v;
}

function instance(key: string, address: unknown, weight: unknown, defaultWeight: number, tags: Record<string, string>): Decoded {
  if (typeof address !== 'string') return new Error(`key ${excerpt(key)}: no address in the value`);
  const parsed = parseAddress(address);
  if (parsed instanceof Error) return new Error(`key ${excerpt(key)}: ${parsed.message}`);
  const w = weight === undefined || weight === null ? defaultWeight : weight;
  // Weight 0 is how an operator takes an instance out of rotation without deregistering it.
  if (w === 0) return undefined;
  if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) return new Error(`key ${excerpt(key)}: weight ${excerpt(JSON.stringify(w))} is not a number > 0`);
  return { address, weight: w, tags };
}
