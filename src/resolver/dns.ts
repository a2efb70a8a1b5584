import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { getServers } from 'node:dns';
import { connect, isIP } from 'node:net';
import { formatAddress, parseAddress, type HostPort } from './address';
import { registerResolverScheme } from './target';
import type { Instance, Resolver, ResolverListener } from './types';
import { watchReporter } from './listener';

// DNS is spoken here directly (over UDP, with TCP when an answer is truncated) rather than through
// node:dns: Node's resolver gives TTLs for A and AAAA answers but not for SRV, and a resolver that
// re-resolves on the records' TTL needs them; it also hides the additional section, where servers
// such as Consul put the SRV targets' addresses.

/** TTL 0 (Consul's default) must not turn into a query loop. */
export const DEFAULT_DNS_MIN_TTL_MS = 1_000;
/** Even a long-lived record is re-checked this often, so a moved service is found without a failure. */
export const DEFAULT_DNS_MAX_TTL_MS = 300_000;
/** resolveNow() runs at most this often: several endpoints failing together cause one query, not one each. */
export const DEFAULT_DNS_MIN_RESOLVE_INTERVAL_MS = 5_000;
/** One query attempt; a local or nearby server answers in well under this. */
export const DEFAULT_DNS_TIMEOUT_MS = 2_000;
/** Attempts per server before giving up (UDP loses packets). */
export const DEFAULT_DNS_TRIES = 2;
/** First retry after a failed resolution; doubles per consecutive failure. */
export const DEFAULT_DNS_BACKOFF_INITIAL_MS = 1_000;
/** Cap on the retry delay after failures, NXDOMAIN included. */
export const DEFAULT_DNS_BACKOFF_MAX_MS = 30_000;
const DNS_PORT = 53;
/** Advertised in EDNS0 so that answers with many records come over UDP, not truncated. */
const EDNS_UDP_SIZE = 4096;
/** Bound on compression pointers followed in one name: more means a malicious or broken answer. */
const MAX_NAME_JUMPS = 64;

const TYPE_A = 1;
const TYPE_CNAME = 5;
const TYPE_AAAA = 28;
const TYPE_SRV = 33;
const TYPE_OPT = 41;
const CLASS_IN = 1;

const RCODES: Record<number, string> = {
  1: 'FORMERR',
  2: 'SERVFAIL',
  3: 'NXDOMAIN',
  4: 'NOTIMP',
  5: 'REFUSED',
};

/** Why a resolution failed. NXDOMAIN and NODATA mean "no instances"; the rest are failures to resolve. */
export type DnsErrorCode = 'NXDOMAIN' | 'NODATA' | 'SERVFAIL' | 'REFUSED' | 'FORMERR' | 'NOTIMP' | 'TIMEOUT' | 'BADRESPONSE' | 'NETWORK' | 'ABORTED';

export class DnsError extends Error {
  override readonly name = 'DnsError';
  constructor(
    message: string,
    readonly code: DnsErrorCode,
  ) {
    super(message);
  }
}

export function isDnsError(error: unknown): error is DnsError {
  return error instanceof DnsError;
}

/** Whether an error says the name has no records (as opposed to a failure to find out). */
function isNoRecords(error: unknown): boolean {
  return error instanceof DnsError && (error.code === 'NXDOMAIN' || error.code === 'NODATA');
}

// ---------------------------------------------------------------------------------------------
// Wire format (RFC 1035, RFC 2782 for SRV, RFC 6891 for the EDNS0 OPT record)

interface ResourceRecord {
  readonly name: string;
  readonly type: number;
  readonly ttl: number;
  /** A/AAAA: the address; CNAME: the name; SRV: the fields. */
  readonly data: string | SrvData | undefined;
}

interface SrvData {
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  readonly target: string;
}

interface Message {
  readonly id: number;
  readonly response: boolean;
  readonly truncated: boolean;
  readonly rcode: number;
  readonly question: { name: string; type: number } | undefined;
  readonly answers: ResourceRecord[];
  readonly additionals: ResourceRecord[];
}

function normalizeName(name: string): string {
  return name.replace(/\.$/, '').toLowerCase();
}

/** Checks a DNS name; returns the problem, or undefined when the name is fine. */
function nameProblem(name: string): string | undefined {
  const bare = name.replace(/\.$/, '');
  if (bare.length === 0) return 'is empty';
  if (bare.length > 253) return 'is longer than 253 characters';
  // eslint-disable-next-line no-control-regex
  if (!/^[\x21-\x7e]+$/.test(bare)) return 'has characters other than printable ASCII (use the punycode form)';
  for (const label of bare.split('.')) {
    if (label.length === 0) return 'has an empty label';
    if (label.length > 63) return `has a label longer than 63 characters ("${label.slice(0, 20)}…")`;
  }
  return undefined;
}

export function encodeQuery(id: number, name: string, type: number): Buffer {
  const labels = name.replace(/\.$/, '').split('.');
  const nameLength = labels.reduce((sum, label) => sum + 1 + label.length, 1);
  const buffer = Buffer.alloc(12 + nameLength + 4 + 11);
  buffer.writeUInt16BE(id, 0);
  buffer.writeUInt16BE(0x0100, 2); // RD: let a recursive server recurse
  buffer.writeUInt16BE(1, 4); // one question
  buffer.writeUInt16BE(1, 10); // one additional: the OPT record
  let offset = 12;
  for (const label of labels) {
    buffer.writeUInt8(label.length, offset++);
    offset += buffer.write(label, offset, 'latin1');
  }
  buffer.writeUInt8(0, offset++);
  buffer.writeUInt16BE(type, offset);
  buffer.writeUInt16BE(CLASS_IN, offset + 2);
  offset += 4;
  // OPT: root name, type 41, class = UDP payload size, TTL 0, no options.
  buffer.writeUInt8(0, offset);
  buffer.writeUInt16BE(TYPE_OPT, offset + 1);
  buffer.writeUInt16BE(EDNS_UDP_SIZE, offset + 3);
  return buffer;
}

function formatIPv6(bytes: Buffer): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i));
  // RFC 5952: the longest run (of two or more) of zero groups becomes "::".
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

class Reader {
  constructor(
    private readonly buffer: Buffer,
    public offset = 0,
  ) {}

  need(count: number): void {
    if (this.offset + count > this.buffer.length) throw new Error('message ends early');
  }
  u8(): number {
    this.need(1);
    return this.buffer.readUInt8(this.offset++);
  }
  u16(): number {
    this.need(2);
    const value = this.buffer.readUInt16BE(this.offset);
    this.offset += 2;
    return value;
  }
  u32(): number {
    this.need(4);
    const value = this.buffer.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }
  bytes(count: number): Buffer {
    this.need(count);
    const value = this.buffer.subarray(this.offset, this.offset + count);
    this.offset += count;
    return value;
  }
  name(): string {
    const labels: string[] = [];
    let offset = this.offset;
    let end = -1;
    for (let jumps = 0; ; ) {
      if (offset >= this.buffer.length) throw new Error('name runs past the end of the message');
      const length = this.buffer[offset];
      if (length === 0) {
        offset++;
        break;
      }
      if ((length & 0xc0) === 0xc0) {
        if (offset + 1 >= this.buffer.length) throw new Error('name pointer runs past the end of the message');
        if (++jumps > MAX_NAME_JUMPS) throw new Error('name compression loop');
        if (end < 0) end = offset + 2;
        offset = ((length & 0x3f) << 8) | this.buffer[offset + 1];
        continue;
      }
      if ((length & 0xc0) !== 0) throw new Error('name uses a reserved label type');
      if (offset + 1 + length > this.buffer.length) throw new Error('label runs past the end of the message');
      labels.push(this.buffer.toString('latin1', offset + 1, offset + 1 + length));
      offset += 1 + length;
    }
    this.offset = end >= 0 ? end : offset;
    return labels.join('.');
  }
}

function readRecord(reader: Reader): ResourceRecord {
  const name = reader.name();
  const type = reader.u16();
  reader.u16(); // class
  const rawTtl = reader.u32();
  // RFC 2181: a TTL with the top bit set is treated as zero.
  const ttl = rawTtl > 0x7fffffff ? 0 : rawTtl;
  const length = reader.u16();
  const end = reader.offset + length;
  reader.need(length);
  let data: ResourceRecord['data'];
  if (type === TYPE_A) {
    if (length !== 4) throw new Error(`A record with ${length} bytes of data`);
    data = [...reader.bytes(4)].join('.');
  } else if (type === TYPE_AAAA) {
    if (length !== 16) throw new Error(`AAAA record with ${length} bytes of data`);
    data = formatIPv6(reader.bytes(16));
  } else if (type === TYPE_CNAME) {
    data = reader.name();
  } else if (type === TYPE_SRV) {
    data = { priority: reader.u16(), weight: reader.u16(), port: reader.u16(), target: reader.name() };
  }
  if (reader.offset > end) throw new Error(`record data longer than its stated ${length} bytes`);
  reader.offset = end;
  return { name, type, ttl, data };
}

export function decodeMessage(buffer: Buffer): Message {
  const reader = new Reader(buffer);
  const id = reader.u16();
  const flags = reader.u16();
  const counts = [reader.u16(), reader.u16(), reader.u16(), reader.u16()];
  let question: Message['question'];
  for (let i = 0; i < counts[0]; i++) {
    const name = reader.name();
    const type = reader.u16();
    reader.u16();
    if (i === 0) question = { name, type };
  }
  const truncated = (flags & 0x0200) !== 0;
  const answers: ResourceRecord[] = [];
  const additionals: ResourceRecord[] = [];
  // A truncated answer may stop anywhere; only its header matters (the query is redone over TCP).
  if (!truncated) {
    for (let i = 0; i < counts[1]; i++) answers.push(readRecord(reader));
    for (let i = 0; i < counts[2]; i++) readRecord(reader);
    for (let i = 0; i < counts[3]; i++) additionals.push(readRecord(reader));
  }
  return { id, response: (flags & 0x8000) !== 0, truncated, rcode: flags & 0x000f, question, answers, additionals };
}

// ---------------------------------------------------------------------------------------------
// Transport

interface QueryOptions {
  readonly servers: readonly HostPort[];
  readonly timeoutMs: number;
  readonly tries: number;
  readonly signal: AbortSignal;
}

function serverText(server: HostPort): string {
  return formatAddress(server.host, server.port);
}

function typeName(type: number): string {
  return type === TYPE_A ? 'A' : type === TYPE_AAAA ? 'AAAA' : type === TYPE_SRV ? 'SRV' : String(type);
}

/** One exchange over UDP: resolves with the matching answer, ignoring stray datagrams. */
function exchangeUdp(packet: Buffer, id: number, name: string, type: number, server: HostPort, timeoutMs: number, signal: AbortSignal): Promise<Message> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIP(server.host) === 6 ? 'udp6' : 'udp4');
    let done = false;
    const finish = (error: Error | undefined, message?: Message) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.close();
      if (error) reject(error);
      else resolve(message!);
    };
    const onAbort = () => finish(new DnsError('dns query aborted', 'ABORTED'));
    const timer = setTimeout(() => finish(new DnsError(`no answer within ${timeoutMs} ms`, 'TIMEOUT')), timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('error', (error: NodeJS.ErrnoException) => finish(new DnsError(`${error.code ?? ''} ${error.message}`.trim(), 'NETWORK')));
    socket.on('message', (data, from) => {
      // Only the server asked, answering this question with this id: anything else is noise or spoofing.
      if (from.port !== server.port || normalizeHost(from.address) !== normalizeHost(server.host)) return;
      let message: Message;
      try {
        message = decodeMessage(data);
      } catch (error) {
        if (data.length >= 2 && data.readUInt16BE(0) === id) finish(new DnsError(`malformed answer: ${(error as Error).message}`, 'BADRESPONSE'));
        return;
      }
      if (!matches(message, id, name, type)) return;
      finish(undefined, message);
    });
    if (signal.aborted) return onAbort();
    socket.send(packet, server.port, server.host, (error) => {
      if (error) finish(new DnsError(`${(error as NodeJS.ErrnoException).code ?? ''} ${error.message}`.trim(), 'NETWORK'));
    });
  });
}

/** One exchange over TCP (RFC 1035 4.2.2: each message prefixed with its length). */
function exchangeTcp(packet: Buffer, id: number, name: string, type: number, server: HostPort, timeoutMs: number, signal: AbortSignal): Promise<Message> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: server.host, port: server.port });
    let done = false;
    let received = Buffer.alloc(0);
    const finish = (error: Error | undefined, message?: Message) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      if (error) reject(error);
      else resolve(message!);
    };
    const onAbort = () => finish(new DnsError('dns query aborted', 'ABORTED'));
    const timer = setTimeout(() => finish(new DnsError(`no answer over TCP within ${timeoutMs} ms`, 'TIMEOUT')), timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('error', (error: NodeJS.ErrnoException) => finish(new DnsError(`${error.code ?? ''} ${error.message}`.trim(), 'NETWORK')));
    socket.on('close', () => finish(new DnsError('connection closed before a full answer', 'NETWORK')));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 2) return;
      const length = received.readUInt16BE(0);
      if (received.length < 2 + length) return;
      let message: Message;
      try {
        message = decodeMessage(received.subarray(2, 2 + length));
      } catch (error) {
        return finish(new DnsError(`malformed answer: ${(error as Error).message}`, 'BADRESPONSE'));
      }
      if (!matches(message, id, name, type)) return finish(new DnsError('answer does not match the question', 'BADRESPONSE'));
      finish(undefined, message);
    });
    if (signal.aborted) return onAbort();
    const framed = Buffer.alloc(2 + packet.length);
    framed.writeUInt16BE(packet.length, 0);
    packet.copy(framed, 2);
    socket.write(framed);
  });
}

function normalizeHost(host: string): string {
  return host.replace(/^::ffff:/i, '').toLowerCase();
}

function matches(message: Message, id: number, name: string, type: number): boolean {
  return (
    message.response &&
    message.id === id &&
    message.question !== undefined &&
    message.question.type === type &&
    normalizeName(message.question.name) === normalizeName(name)
  );
}

/**
 * Asks the servers in turn, `tries` rounds. NXDOMAIN is an answer and ends the search; SERVFAIL,
 * REFUSED, timeouts and network errors move on to the next server.
 */
async function query(name: string, type: number, options: QueryOptions): Promise<Message> {
  let lastError: DnsError | undefined;
  for (let attempt = 0; attempt < options.tries; attempt++) {
    for (const server of options.servers) {
      if (options.signal.aborted) throw new DnsError('dns query aborted', 'ABORTED');
      const where = `dns ${typeName(type)} "${name}" at ${serverText(server)}`;
      const id = randomInt(0, 0x10000);
      const packet = encodeQuery(id, name, type);
      try {
        let message = await exchangeUdp(packet, id, name, type, server, options.timeoutMs, options.signal);
        if (message.truncated) message = await exchangeTcp(packet, id, name, type, server, options.timeoutMs, options.signal);
        if (message.rcode === 0 || message.rcode === 3) return message;
        const code = (RCODES[message.rcode] ?? 'BADRESPONSE') as DnsErrorCode;
        lastError = new DnsError(`${where}: ${code}${RCODES[message.rcode] ? '' : ` (rcode ${message.rcode})`}`, code);
      } catch (error) {
        const dnsError = error as DnsError;
        if (dnsError.code === 'ABORTED') throw dnsError;
        lastError = new DnsError(`${where}: ${dnsError.message}`, dnsError.code ?? 'NETWORK');
      }
    }
  }
  throw lastError ?? new DnsError(`dns ${typeName(type)} "${name}": no servers to ask`, 'NETWORK');
}

// ---------------------------------------------------------------------------------------------
// Resolution

interface Resolution {
  readonly instances: Instance[];
  /** Shortest TTL among the records the answer rests on, in seconds. */
  readonly ttl: number;
  /** Something went wrong for part of the answer; the rest is still good. */
  readonly partial?: Error;
}

export type DnsFamily = 'ipv4' | 'ipv6' | 'any';

/** Addresses of `name`: A and/or AAAA, CNAMEs followed by the server. */
async function lookupAddresses(name: string, family: DnsFamily, options: QueryOptions): Promise<{ addresses: string[]; ttl: number; partial?: Error }> {
  const types = family === 'ipv4' ? [TYPE_A] : family === 'ipv6' ? [TYPE_AAAA] : [TYPE_A, TYPE_AAAA];
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
    if (message.rcode === 3) {
      noRecords = new DnsError(`dns ${typeName(type)} "${name}": NXDOMAIN (no such name)`, 'NXDOMAIN');
      return;
    }
    let found = 0;
    for (const record of message.answers) {
      if (record.type === TYPE_CNAME) ttl = Math.min(ttl, record.ttl);
      if (record.type !== type || typeof record.data !== 'string') continue;
      ttl = Math.min(ttl, record.ttl);
      found++;
      if (!addresses.includes(record.data)) addresses.push(record.data);
    }
    if (found === 0) noRecords ??= new DnsError(`dns ${typeName(type)} "${name}": no ${typeName(type)} records (NODATA)`, 'NODATA');
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

async function resolveSrv(name: string, family: DnsFamily, options: QueryOptions): Promise<Resolution> {
  const message = await query(name, TYPE_SRV, options);
  if (message.rcode === 3) throw new DnsError(`dns SRV "${name}": NXDOMAIN (no such name)`, 'NXDOMAIN');
  let ttl = Infinity;
  const records: (SrvData & { ttl: number })[] = [];
  for (const record of message.answers) {
    if (record.type === TYPE_CNAME) ttl = Math.min(ttl, record.ttl);
    if (record.type !== TYPE_SRV || typeof record.data !== 'object' || record.data === undefined) continue;
    ttl = Math.min(ttl, record.ttl);
    // A target of "." says the service is decidedly not available at this name (RFC 2782).
    if (record.data.target === '' || record.data.port === 0) continue;
    records.push({ ...record.data, ttl: record.ttl });
  }
  if (records.length === 0) throw new DnsError(`dns SRV "${name}": no usable SRV records (NODATA)`, 'NODATA');
  const group = pickSrvGroup(records);

  // Addresses the server sent along in the additional section save a query per target.
  const wanted = family === 'ipv4' ? [TYPE_A] : family === 'ipv6' ? [TYPE_AAAA] : [TYPE_A, TYPE_AAAA];
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

async function resolveHost(host: string, port: number, family: DnsFamily, options: QueryOptions): Promise<Resolution> {
  const { addresses, ttl, partial } = await lookupAddresses(host, family, options);
  return { instances: addresses.map((address) => ({ address: formatAddress(address, port) })), ttl, partial };
}

// ---------------------------------------------------------------------------------------------
// The resolver

export interface DnsResolverOptions {
  /**
   * DNS servers to ask, "ip" or "ip:port" ("[v6]:port"); the system's (from /etc/resolv.conf) by
   * default. Names are asked as given: no search domains.
   */
  servers?: readonly string[];
  /** Resolve SRV records (`_service._proto.name`, or any name with this set). Names starting with "_" are SRV without it. */
  srv?: boolean;
  /** Which address records to ask for (default both). */
  family?: DnsFamily;
  /** Lower bound on the re-resolution period, whatever the TTL says. */
  minTtlMs?: number;
  /** Upper bound on the re-resolution period. */
  maxTtlMs?: number;
  /** Minimum spacing of resolutions asked for with resolveNow(). */
  minResolveIntervalMs?: number;
  /** One query attempt's timeout. */
  timeoutMs?: number;
  /** Rounds over the servers before a query fails. */
  tries?: number;
  /** Retry after failures: doubles from `initialMs` up to `maxMs`, each delay jittered between half and all of it. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Source of randomness for backoff jitter, in [0, 1). */
  random?: () => number;
}

/** A DNS resolver, plus the hook that asks for a fresh resolution. */
export interface DnsResolver extends Resolver {
  /**
   * Re-resolves `service` (every watched name when omitted) now, or as soon as
   * `minResolveIntervalMs` since its last resolution has passed. Call it when endpoints fail:
   * the records may have changed before their TTL ran out.
   */
  resolveNow(service?: string): void;
}

function positive(value: unknown, field: string, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new TypeError(`${field} must be a finite number ${allowZero ? '>= 0' : '> 0'}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Parses "ip", "ip:port" or "[v6]:port" as a DNS server. */
function parseServer(text: unknown, field: string): HostPort {
  if (typeof text !== 'string' || text.trim().length === 0) throw new TypeError(`${field} must be a DNS server "ip" or "ip:port", got ${JSON.stringify(text)}`);
  const value = text.trim();
  if (isIP(value)) return { host: value, port: DNS_PORT };
  const withPort = /^(.*):(\d+)$/.exec(value);
  const host = (withPort ? withPort[1] : value).replace(/^\[(.*)\]$/, '$1');
  if (!isIP(host)) throw new TypeError(`${field} must be an IP address (a server's name would itself need resolving), got "${host}"`);
  if (!withPort) return { host, port: DNS_PORT };
  const parsed = parseAddress(formatAddress(host, Number(withPort[2])));
  if (parsed instanceof Error) throw new TypeError(`${field}: ${parsed.message}`);
  return parsed;
}

interface WatchTarget {
  readonly srv: boolean;
  readonly name: string;
  readonly port: number;
  /** An IP literal or "localhost": no query needed. */
  readonly fixed?: Instance[];
}

/**
 * Finds instances through DNS: A/AAAA records with the port from the name ("host:port"), or SRV
 * records with their ports, priorities and weights. Re-resolves when the records' TTL runs out
 * (bounded by minTtlMs and maxTtlMs) and when asked with resolveNow(). NXDOMAIN and empty answers
 * are reported as errors, so the last good list stays in use.
 */
export function dnsResolver(options: DnsResolverOptions = {}): DnsResolver {
  const where = 'dnsResolver';
  if (options === null || typeof options !== 'object') throw new TypeError(`${where}: options must be an object`);
  let servers: HostPort[] | undefined;
  if (options.servers !== undefined) {
    if (!Array.isArray(options.servers) || options.servers.length === 0) {
      throw new TypeError(`${where}: servers must be a non-empty array of "ip:port" strings`);
    }
    servers = options.servers.map((server, i) => parseServer(server, `${where}: servers[${i}]`));
  }
  if (options.srv !== undefined && typeof options.srv !== 'boolean') throw new TypeError(`${where}: srv must be a boolean`);
  const family = options.family ?? 'any';
  if (family !== 'ipv4' && family !== 'ipv6' && family !== 'any') throw new TypeError(`${where}: family must be "ipv4", "ipv6" or "any", got ${JSON.stringify(family)}`);
  const minTtlMs = positive(options.minTtlMs, `${where}: minTtlMs`, DEFAULT_DNS_MIN_TTL_MS);
  const maxTtlMs = positive(options.maxTtlMs, `${where}: maxTtlMs`, Math.max(DEFAULT_DNS_MAX_TTL_MS, minTtlMs));
  if (maxTtlMs < minTtlMs) throw new TypeError(`${where}: maxTtlMs (${maxTtlMs}) must be >= minTtlMs (${minTtlMs})`);
  const minResolveIntervalMs = positive(options.minResolveIntervalMs, `${where}: minResolveIntervalMs`, DEFAULT_DNS_MIN_RESOLVE_INTERVAL_MS, true);
  const timeoutMs = positive(options.timeoutMs, `${where}: timeoutMs`, DEFAULT_DNS_TIMEOUT_MS);
  const tries = options.tries ?? DEFAULT_DNS_TRIES;
  if (!Number.isInteger(tries) || tries < 1) throw new TypeError(`${where}: tries must be an integer >= 1, got ${JSON.stringify(tries)}`);
  if (options.backoff !== undefined && (options.backoff === null || typeof options.backoff !== 'object')) {
    throw new TypeError(`${where}: backoff must be an object with initialMs/maxMs`);
  }
  const backoffInitialMs = positive(options.backoff?.initialMs, `${where}: backoff.initialMs`, DEFAULT_DNS_BACKOFF_INITIAL_MS);
  const backoffMaxMs = positive(options.backoff?.maxMs, `${where}: backoff.maxMs`, Math.max(DEFAULT_DNS_BACKOFF_MAX_MS, backoffInitialMs));
  if (backoffMaxMs < backoffInitialMs) throw new TypeError(`${where}: backoff.maxMs must be >= backoff.initialMs`);
  const random = options.random ?? Math.random;
  if (typeof random !== 'function') throw new TypeError(`${where}: random must be a function returning [0, 1)`);

  const systemServers = (): HostPort[] => {
    const found: HostPort[] = [];
    for (const text of getServers()) {
      try {
        found.push(parseServer(text, 'system DNS server'));
      } catch {
        // An entry Node reports but this resolver cannot use is skipped; the others still work.
      }
    }
    return found;
  };

  const parseWatchTarget = (service: string): WatchTarget | Error => {
    if (typeof service !== 'string' || service.trim().length === 0) return new TypeError(`${where}: name must be a non-empty string, got ${JSON.stringify(service)}`);
    const text = service.trim();
    const srv = options.srv === true || text.startsWith('_');
    if (srv) {
      const problem = nameProblem(text);
      if (problem) return new TypeError(`${where}: SRV name "${text}" ${problem}`);
      if (/:\d+$/.test(text)) return new TypeError(`${where}: SRV name "${text}" must not carry a port: SRV records give the ports`);
      return { srv, name: text, port: 0 };
    }
    const parsed = parseAddress(text);
    if (parsed instanceof Error) return new TypeError(`${where}: "${text}" must be "host:port" (or an SRV name): ${parsed.message}`);
    if (isIP(parsed.host)) return { srv, name: parsed.host, port: parsed.port, fixed: [{ address: formatAddress(parsed.host, parsed.port) }] };
    const problem = nameProblem(parsed.host);
    if (problem) return new TypeError(`${where}: host name "${parsed.host}" ${problem}`);
    if (/^localhost\.?$/i.test(parsed.host)) {
      // RFC 6761: localhost is loopback without asking anyone. IPv4 unless asked for IPv6, because
      // that is what servers bound to "localhost" or 0.0.0.0 accept.
      return { srv, name: parsed.host, port: parsed.port, fixed: [{ address: formatAddress(family === 'ipv6' ? '::1' : '127.0.0.1', parsed.port) }] };
    }
    return { srv, name: parsed.host, port: parsed.port };
  };

  /** The watches, by service text, so resolveNow(service) finds them. */
  const watches = new Map<string, Set<() => void>>();

  function watch(service: string, listener: ResolverListener): () => void {
    const controller = new AbortController();
    const { signal } = controller;
    const { update, report } = watchReporter(listener, signal);
    const parsed = parseWatchTarget(service);
    if (parsed instanceof Error) {
      queueMicrotask(() => report(parsed));
      return () => controller.abort();
    }
    const target: WatchTarget = parsed;
    if (target.fixed) {
      const fixed = target.fixed;
      queueMicrotask(() => update(fixed.map((instance) => ({ ...instance }))));
      return () => controller.abort();
    }

    let timer: NodeJS.Timeout | undefined;
    let dueAt = Infinity;
    let running = false;
    let lastStartedAt = -Infinity;
    let failures = 0;
    let lastKey: string | undefined;

    const schedule = (delayMs: number) => {
      if (signal.aborted) return;
      clearTimeout(timer);
      dueAt = Date.now() + delayMs;
      timer = setTimeout(() => void resolve(), delayMs);
    };

    async function resolve(): Promise<void> {
      clearTimeout(timer);
      timer = undefined;
      dueAt = Infinity;
      if (running || signal.aborted) return;
      running = true;
      lastStartedAt = Date.now();
      const queryOptions: QueryOptions = { servers: servers ?? systemServers(), timeoutMs, tries, signal };
      try {
        if (queryOptions.servers.length === 0) throw new DnsError(`${where}: no DNS servers configured on this system; pass options.servers`, 'NETWORK');
        const resolution = target.srv
          ? await resolveSrv(target.name, family, queryOptions)
          : await resolveHost(target.name, target.port, family, queryOptions);
        if (signal.aborted) return;
        failures = 0;
        if (resolution.partial) report(resolution.partial);
        const instances = resolution.instances.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
        const key = JSON.stringify(instances);
        if (key !== lastKey) {
          lastKey = key;
          update(instances);
        }
        const ttlMs = Number.isFinite(resolution.ttl) ? resolution.ttl * 1000 : maxTtlMs;
        schedule(Math.min(maxTtlMs, Math.max(minTtlMs, ttlMs)));
      } catch (error) {
        if (signal.aborted) return;
        failures++;
        // The next good answer is delivered even if unchanged, so the listener sees the recovery.
        lastKey = undefined;
        report(error);
        const delay = Math.min(backoffMaxMs, backoffInitialMs * 2 ** Math.min(failures - 1, 30));
        schedule(delay / 2 + (delay / 2) * random());
      } finally {
        running = false;
      }
    }

    const resolveNow = () => {
      if (running || signal.aborted) return;
      const earliest = lastStartedAt + minResolveIntervalMs;
      const now = Date.now();
      if (now >= earliest) {
        void resolve();
      } else if (earliest < dueAt) {
        schedule(earliest - now);
      }
    };

    const key = service;
    let set = watches.get(key);
    if (!set) watches.set(key, (set = new Set()));
    set.add(resolveNow);
    // First resolution right away, but never inside watch() itself.
    schedule(0);

    return () => {
      if (signal.aborted) return;
      controller.abort();
      clearTimeout(timer);
      timer = undefined;
      set!.delete(resolveNow);
      if (set!.size === 0 && watches.get(key) === set) watches.delete(key);
    };
  }

  function resolveNow(service?: string): void {
    if (service !== undefined) {
      for (const trigger of watches.get(service) ?? []) trigger();
      return;
    }
    for (const set of watches.values()) for (const trigger of set) trigger();
  }

  return { watch, resolveNow };
}

const DNS_TARGET_PARAMS = new Set(['srv', 'family']);

/**
 * `dns:///host:port` (the system's DNS servers), `dns://10.0.0.2:53/host:port` (that server),
 * `dns:///_grpc._tcp.example.com` or `dns:///name?srv=true` (SRV records); `?family=ipv4|ipv6|any`.
 */
registerResolverScheme('dns', (target) => {
  const { text, query } = target;
  for (const key of query.keys()) {
    if (!DNS_TARGET_PARAMS.has(key)) throw new TypeError(`target "${text}": unknown parameter "${key}" (known: ${[...DNS_TARGET_PARAMS].join(', ')})`);
  }
  if (!target.path) throw new TypeError(`target "${text}" names no host; expected "dns:///host:port" or "dns://dns-server:port/host:port"`);
  const srvParam = query.get('srv');
  let srv: boolean | undefined;
  if (srvParam !== null) {
    if (/^(1|true|yes)$/i.test(srvParam)) srv = true;
    else if (/^(0|false|no)$/i.test(srvParam)) srv = false;
    else throw new TypeError(`target "${text}": srv=${srvParam} is not a boolean (true/false)`);
  }
  const family = query.get('family') ?? undefined;
  if (family !== undefined && family !== 'ipv4' && family !== 'ipv6' && family !== 'any') {
    throw new TypeError(`target "${text}": family=${family} must be ipv4, ipv6 or any`);
  }
  const resolver = dnsResolver({
    servers: target.authority ? [target.authority] : undefined,
    srv,
    family: family as DnsFamily | undefined,
  });
  // Checked here so a malformed name fails at construction rather than on the first resolution.
  const name = target.path;
  if (srv !== true && !name.startsWith('_')) {
    const parsed = parseAddress(name);
    if (parsed instanceof Error) throw new TypeError(`target "${text}": ${parsed.message} (for SRV records add "?srv=true" or use "_service._proto.name")`);
  }
  return { resolver, service: name };
});
