import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect, isIP } from 'node:net';
import type * as DnsPacket from 'dns-packet';
import { formatAddress, type HostPort } from '../discovery/address';
import { DnsError, type DnsErrorCode } from './dns-error';

// DNS is spoken here directly (over UDP, with TCP when an answer is truncated) rather than through
// node:dns: Node's resolver gives TTLs for A and AAAA answers but not for SRV, and a resolver that
// re-resolves on the records' TTL needs them; it also hides the additional section, where servers
// such as Consul put the SRV targets' addresses. The wire format is dns-packet's.

/** The codec, loaded with the first query: apps that never resolve through DNS do not load it. */
function codec(): typeof DnsPacket {
  return require('dns-packet') as typeof DnsPacket;
}

/** Advertised in EDNS0 so that answers with many records come over UDP, not truncated. */
const EDNS_UDP_SIZE = 4096;
/** The record types asked for. */
export type QueryType = 'A' | 'AAAA' | 'SRV';

/** One record of an answer, as the resolution needs it. */
export interface ResourceRecord {
  readonly name: string;
  readonly type: string;
  /** Seconds; RFC 2181: a TTL with the top bit set counts as zero. */
  readonly ttl: number;
  /** A/AAAA: the address; CNAME: the name; SRV: the fields. */
  readonly data: string | SrvData | undefined;
}

export interface SrvData {
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  readonly target: string;
}

export interface Message {
  readonly id: number;
  readonly response: boolean;
  readonly truncated: boolean;
  readonly rcode: number;
  readonly question: { name: string; type: string } | undefined;
  readonly answers: ResourceRecord[];
  readonly additionals: ResourceRecord[];
}

const RCODES: Record<number, DnsErrorCode> = { 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED' };
export const RCODE_NXDOMAIN = 3;

export interface QueryOptions {
  readonly servers: readonly HostPort[];
  readonly timeoutMs: number;
  readonly tries: number;
  readonly signal: AbortSignal;
}

export function normalizeName(name: string): string {
  return name.replace(/\.$/, '').toLowerCase();
}

/** A recursive query for `name`/`type`, with an EDNS0 OPT record. */
export function encodeQuery(id: number, name: string, type: QueryType): Buffer {
  const packet = codec();
  return packet.encode({
    type: 'query',
    id,
    flags: packet.RECURSION_DESIRED,
    questions: [{ type, name: name.replace(/\.$/, '') }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: EDNS_UDP_SIZE, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
  });
}

function record(answer: DnsPacket.Answer): ResourceRecord {
  const raw = (answer as { ttl?: number }).ttl ?? 0;
  const ttl = raw > 0x7fffffff ? 0 : raw;
  let data: ResourceRecord['data'];
  if (answer.type === 'A' || answer.type === 'AAAA' || answer.type === 'CNAME') data = answer.data;
  else if (answer.type === 'SRV') data = { priority: answer.data.priority ?? 0, weight: answer.data.weight ?? 0, port: answer.data.port, target: answer.data.target };
  return { name: answer.name, type: answer.type, ttl, data };
}

/** Decodes an answer; a truncated one keeps only its header (the query is redone over TCP). */
export function decodeMessage(buffer: Buffer): Message {
  if (buffer.length < 12) throw new Error('message ends early: shorter than a DNS header');
  const id = buffer.readUInt16BE(0);
  const flags = buffer.readUInt16BE(2);
  const packet = codec();
  const truncated = (flags & packet.TRUNCATED_RESPONSE) !== 0;
  const header = { id, response: (flags & 0x8000) !== 0, truncated, rcode: flags & 0x000f };
  let decoded: DnsPacket.DecodedPacket;
  try {
    decoded = packet.decode(buffer);
  } catch (error) {
    // A truncated answer may stop anywhere; only its header matters.
    if (truncated) return { ...header, question: undefined, answers: [], additionals: [] };
    throw error;
  }
  const question = decoded.questions?.[0];
  return {
    ...header,
    question: question ? { name: question.name, type: question.type } : undefined,
    answers: truncated ? [] : (decoded.answers ?? []).map(record),
    additionals: truncated ? [] : (decoded.additionals ?? []).filter((a) => a.type !== 'OPT').map(record),
  };
}

function matches(message: Message, id: number, name: string, type: QueryType): boolean {
  return (
    message.response &&
    message.id === id &&
    (message.truncated || (message.question !== undefined && message.question.type === type && normalizeName(message.question.name) === normalizeName(name)))
  );
}

function normalizeHost(host: string): string {
  return host.replace(/^::ffff:/i, '').toLowerCase();
}

function networkError(error: NodeJS.ErrnoException): DnsError {
  return new DnsError(`${error.code ?? ''} ${error.message}`.trim(), 'NETWORK');
}

/** One exchange over UDP: resolves with the matching answer, ignoring stray datagrams. */
function exchangeUdp(query: Buffer, id: number, name: string, type: QueryType, server: HostPort, timeoutMs: number, signal: AbortSignal): Promise<Message> {
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
    socket.on('error', (error: NodeJS.ErrnoException) => finish(networkError(error)));
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
    socket.send(query, server.port, server.host, (error) => {
      if (error) finish(networkError(error));
    });
  });
}

/** One exchange over TCP (RFC 1035 4.2.2: each message prefixed with its length). */
function exchangeTcp(query: Buffer, id: number, name: string, type: QueryType, server: HostPort, timeoutMs: number, signal: AbortSignal): Promise<Message> {
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
    socket.on('error', (error: NodeJS.ErrnoException) => finish(networkError(error)));
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
      if (message.truncated || !matches(message, id, name, type)) return finish(new DnsError('answer does not match the question', 'BADRESPONSE'));
      finish(undefined, message);
    });
    if (signal.aborted) return onAbort();
    const framed = Buffer.alloc(2 + query.length);
    framed.writeUInt16BE(query.length, 0);
    query.copy(framed, 2);
    socket.write(framed);
  });
}

/**
 * Asks the servers in turn, `tries` rounds. NXDOMAIN is an answer and ends the search; SERVFAIL,
 * REFUSED, timeouts and network errors move on to the next server.
 */
export async function query(name: string, type: QueryType, options: QueryOptions): Promise<Message> {
  let lastError: DnsError | undefined;
  for (let attempt = 0; attempt < options.tries; attempt++) {
    for (const server of options.servers) {
      if (options.signal.aborted) throw new DnsError('dns query aborted', 'ABORTED');
      const where = `dns ${type} "${name}" at ${formatAddress(server.host, server.port)}`;
      const id = randomInt(0, 0x10000);
      const question = encodeQuery(id, name, type);
      try {
        let message = await exchangeUdp(question, id, name, type, server, options.timeoutMs, options.signal);
        if (message.truncated) message = await exchangeTcp(question, id, name, type, server, options.timeoutMs, options.signal);
        if (message.rcode === 0 || message.rcode === RCODE_NXDOMAIN) return message;
        const code = RCODES[message.rcode] ?? 'BADRESPONSE';
        lastError = new DnsError(`${where}: ${code}${RCODES[message.rcode] ? '' : ` (rcode ${message.rcode})`}`, code);
      } catch (error) {
        const dnsError = error as DnsError;
        if (dnsError.code === 'ABORTED') throw dnsError;
        lastError = new DnsError(`${where}: ${dnsError.message}`, dnsError.code ?? 'NETWORK');
      }
    }
  }
  throw lastError ?? new DnsError(`dns ${type} "${name}": no servers to ask`, 'NETWORK');
}
