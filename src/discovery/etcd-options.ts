// The public side of etcd connections: options and errors. No type here comes from the etcd3
// package, so the library's type declarations compile for apps that do not install it.

import type { Clock } from '../core/clock';

/** etcd's own default client address. */
export const DEFAULT_ETCD_HOST = '127.0.0.1:2379';
/**
 * Bound on each etcd request that is not a stream. etcd answers in milliseconds; a member that
 * has not answered in 5 s is partitioned or overloaded, and the next try goes to another member.
 */
export const DEFAULT_ETCD_REQUEST_TIMEOUT_MS = 5_000;
/** An `Etcd3` client from the etcd3 package, as far as the options need to name it. */
export interface EtcdClient {
  watch(): unknown;
  close(): void;
}

/** TLS to etcd. */
export interface EtcdTlsOptions {
  /** CA certificate(s) to trust instead of the system store (PEM). */
  ca?: string | Buffer;
  /** Client certificate (PEM), when etcd verifies clients (--client-cert-auth). */
  cert?: string | Buffer;
  /** Client key (PEM) for `cert`. */
  key?: string | Buffer;
  /** Name to verify etcd's certificate against, when it differs from the host dialled. */
  servername?: string;
}

/** How to reach etcd. */
export interface EtcdConnectionOptions {
  /**
   * Cluster members: "host:port" or "http(s)://host:port", one or a list. Default
   * "127.0.0.1:2379". No credentials here: they go in `auth`.
   */
  hosts?: string | readonly string[];
  /** etcd user and password. The password is sent only to etcd's Authenticate call, never in a message or log line. */
  auth?: { username: string; password: string };
  /** TLS to every member; `true` uses the system CAs. Implied by https:// hosts. */
  tls?: boolean | EtcdTlsOptions;
  /** Bound on each request that is not a stream (range reads, lease grants, puts). */
  requestTimeoutMs?: number;
  /** An `Etcd3` client of your own (from the etcd3 package), used instead of one built from the options above; it is not closed by the library. */
  client?: EtcdClient;
  /** Clock for request deadlines, in epoch ms. Default the system clock. */
  now?: Clock;
}

/** A failed exchange with etcd. Its message never contains the password. */
export class EtcdError extends Error {
  override readonly name = 'EtcdError';
}

export function isEtcdError(error: unknown): error is EtcdError {
  return error instanceof EtcdError;
}

