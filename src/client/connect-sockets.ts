// Abandoning a grpc-js connection attempt. grpc-js has no connect timeout, and the only public way
// to give up on a connection attempt is to close the channel. But Client.close() on a channel whose
// subchannel is still connecting does not shut the connector down (grpc-js 1.x: the subchannel
// moves to IDLE and drops its reference, while Http2SubchannelConnector keeps the HTTP/2 session
// it is building, and with it the socket, until the peer speaks or hangs up). Against a peer that
// accepts TCP and never speaks HTTP/2, every connect timeout would leave one more socket open,
// and close() would leave them all. So an endpoint that gives up on a connection attempt also
// destroys the sockets that attempt opened, found through Node's public `net.client.socket`
// diagnostics channel: sockets to the endpoint's address, opened while it was connecting, that
// have not received a single byte (an HTTP/2 or TLS peer answers at once; a silent one never).

import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { isIP, Socket } from 'node:net';
import { monotonicClock, type MonotonicClock } from '../core/clock';
import { timerDelay } from '../core/duration';
import { parseAddress } from '../discovery/address';

const CHANNEL = 'net.client.socket';

/**
 * A socket is judged silent only once it has been connected this long without a byte: another
 * channel to the same address may have connected a moment ago and not yet read the peer's first
 * frame, and a healthy peer's first frame comes within a round trip.
 */
const SILENCE_MS = 1_000;

/** The sockets of one endpoint's connection attempts, while it is connecting. */
export class ConnectSockets {
  /** Sockets noted, with when they connected (by `clock`). */
  private readonly sockets = new Map<Socket, number>();
  private recheck: NodeJS.Timeout | undefined = undefined;
  private readonly host: string | undefined;
  private readonly port: number;
  private watching = false;
  /** The last attempt was given up (reap() since the last watch() or forget()). */
  private abandoned = false;

  constructor(
    address: string,
    private readonly clock: MonotonicClock = monotonicClock,
  ) {
    const parsed = parseAddress(address);
    // An unparseable address never reaches here (the endpoint set refuses it); stay inert if it does.
    if (parsed instanceof Error) {
      this.host = undefined;
      this.port = -1;
    } else {
      // A host name resolves inside grpc-js: any address on the port may be it.
      this.host = isIP(parsed.host) ? parsed.host : undefined;
      this.port = parsed.port;
    }
  }

  /** Starts noting sockets opened to this address (a connection attempt is under way). */
  watch(): void {
    if (this.watching || this.port < 0) return;
    this.watching = true;
    this.abandoned = false;
    watchers.add(this);
    if (watchers.size === 1) subscribe(CHANNEL, onSocket);
  }

  /** Stops noting new sockets; the ones noted so far stay noted until reap() or forget(). */
  unwatch(): void {
    if (!this.watching) return;
    this.watching = false;
    watchers.delete(this);
    if (watchers.size === 0) unsubscribe(CHANNEL, onSocket);
  }

  /** The attempt succeeded: its sockets are the channel's now. */
  forget(): void {
    this.abandoned = false;
    this.sockets.clear();
    if (this.recheck !== undefined) clearTimeout(this.recheck);
    this.recheck = undefined;
  }

  /**
   * The attempt was abandoned: destroys the noted sockets that never heard from the peer.
   * Sockets connected too recently to judge are judged once they are old enough. Returns how
   * many were destroyed now.
   */
  reap(): number {
    this.abandoned = true;
    let reaped = 0;
    let youngest = -1;
    const now = this.clock();
    for (const [socket, since] of this.sockets) {
      if (socket.destroyed || socket.bytesRead > 0) {
        this.sockets.delete(socket);
      } else if (now - since >= SILENCE_MS) {
        socket.destroy();
        this.sockets.delete(socket);
        reaped++;
      } else if (since > youngest) {
        youngest = since;
      }
    }
    if (youngest >= 0 && this.recheck === undefined) {
      this.recheck = setTimeout(() => {
        this.recheck = undefined;
        this.reap();
      }, timerDelay(youngest + SILENCE_MS - now));
      this.recheck.unref();
    }
    return reaped;
  }

  /**
   * @internal A socket opened while this endpoint was connecting has connected somewhere. One
   * that connects only after its attempt was given up is judged at once (the attempt's reap has
   * passed); one whose attempt succeeded meanwhile is the channel's.
   */
  offer(socket: Socket): void {
    if (socket.remotePort !== this.port) return;
    if (this.host !== undefined && socket.remoteAddress !== this.host && !sameLoopback(socket.remoteAddress, this.host)) return;
    if (!this.watching && !this.abandoned) return;
    this.sockets.set(socket, this.clock());
    socket.once('close', () => this.sockets.delete(socket));
    if (!this.watching) this.reap();
  }
}

const watchers = new Set<ConnectSockets>();

function onSocket(message: unknown): void {
  const socket = socketOf(message);
  if (socket === undefined) return;
  // The socket is published before it connects: its peer is known only once it has. By then the
  // endpoint that opened it may have given up on it (a loaded event loop can delay the connect
  // past the connect timeout); it still gets the socket, to close it.
  const opening = [...watchers];
  socket.once('connect', () => {
    for (const watcher of watchers) watcher.offer(socket);
    for (const watcher of opening) if (!watchers.has(watcher)) watcher.offer(socket);
  });
}

/** The socket a `net.client.socket` message carries (Node publishes `{ socket }`). */
function socketOf(message: unknown): Socket | undefined {
  if (message === null || typeof message !== 'object' || !('socket' in message)) return undefined;
  const { socket } = message;
  return socket instanceof Socket ? socket : undefined;
}

/** '::ffff:127.0.0.1' and '127.0.0.1' are one peer. */
function sameLoopback(remote: string | undefined, host: string): boolean {
  return remote !== undefined && remote.startsWith('::ffff:') && remote.slice(7) === host;
}
