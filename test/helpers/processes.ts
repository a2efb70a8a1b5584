import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { dirname, join } from 'node:path';

// What the helpers that run real registries (Consul, etcd) share: free loopback ports, and child
// processes that never outlive the test process nor keep it alive.

const children = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Makes `proc` die with the test process, whatever way the tests end, and keeps neither it nor
 * its pipes from letting the test process exit (a test that forgets to stop it still ends).
 */
export function trackChild(proc: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const child of children) child.kill('SIGKILL');
    });
  }
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  proc.unref();
  (proc.stdout as unknown as Socket | null)?.unref();
  (proc.stderr as unknown as Socket | null)?.unref();
}

function tcpPort(port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const chosen = (server.address() as { port: number }).port;
      server.close(() => resolve(chosen));
    });
  });
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
  });
}

/** A loopback port the OS chose, free for TCP (and UDP when asked), different from those in `taken` (which it joins). */
export async function freePort(udp: boolean, taken: Set<number>): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await tcpPort();
    if (taken.has(port)) continue;
    if (udp && !(await udpFree(port))) continue;
    taken.add(port);
    return port;
  }
  throw new Error('could not find a free loopback port');
}

/** Keeps the last `max` non-empty lines written to a child's stdout/stderr, for failure messages. */
export function lineKeeper(max: number): { keep(chunk: Buffer): void; lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    keep(chunk) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(line);
      if (lines.length > max) lines.splice(0, lines.length - max);
    },
  };
}

/**
 * A file under the repository's `.tools/` folder, found upwards from here: the helpers also run
 * compiled from `.bench/`, one level deeper.
 */
export function toolPath(...parts: string[]): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'scripts'))) return join(dir, '.tools', ...parts);
    if (dirname(dir) === dir) return join(__dirname, '..', '..', '.tools', ...parts);
  }
}
