import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import type { Behaviour } from '../../test/helpers/echo-server';

/** Servers running in a child process: their addresses and a way to stop them. */
export interface ServerProcess {
  addresses: string[];
  stop(): void;
}

/**
 * Forks `script` (a sibling module of the caller, given without its extension) with `args`; the
 * child sends its servers' addresses over IPC once they listen. Compiled (npm run bench) or run
 * from source with tsx: the child is the same kind.
 */
export async function forkServers(dir: string, script: string, args: string[]): Promise<ServerProcess> {
  const compiled = __filename.endsWith('.js');
  const child: ChildProcess = fork(join(dir, `${script}${compiled ? '.js' : '.ts'}`), args, {
    execArgv: compiled ? [] : ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const addresses = await new Promise<string[]>((resolve, reject) => {
    child.once('message', (m: { addresses: string[] }) => resolve(m.addresses));
    child.once('exit', (code) => reject(new Error(`server process exited with ${code}`)));
  });
  return {
    addresses,
    stop: () => {
      child.disconnect();
      child.kill();
    },
  };
}

/** Starts echo servers in a child process; resolves with their addresses and a stop function. */
export function startServerProcess(count: number, behaviours: Behaviour[] = []): Promise<ServerProcess> {
  return forkServers(__dirname, 'echo-servers', [String(count), JSON.stringify(behaviours)]);
}

export interface LoadResult {
  calls: number;
  failures: number;
  seconds: number;
  throughput: number;
  p50: number;
  p99: number;
  /** CPU time this (client) process spent per call, in microseconds. */
  cpuPerCallUs: number;
}

/** Keeps `concurrency` calls in flight for `durationMs`; latencies in ms. */
export async function runLoad(call: () => Promise<unknown>, concurrency: number, durationMs: number): Promise<LoadResult> {
  const latencies: number[] = [];
  let failures = 0;
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  const end = start + durationMs;
  const worker = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        await call();
      } catch {
        failures++;
      }
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return summarize(latencies, failures, start, cpuStart);
}

function summarize(latencies: number[], failures: number, start: number, cpuStart: NodeJS.CpuUsage): LoadResult {
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return {
    calls: latencies.length,
    failures,
    seconds,
    throughput: latencies.length / seconds,
    p50: at(0.5),
    p99: at(0.99),
    cpuPerCallUs: (cpu.user + cpu.system) / latencies.length,
  };
}

/**
 * Open loop: starts `rate` calls per second for `durationMs`, however long each takes, as a
 * service's traffic arrives; then waits for the stragglers. Latencies in ms.
 */
export async function runRate(call: () => Promise<unknown>, rate: number, durationMs: number): Promise<LoadResult> {
  const latencies: number[] = [];
  let failures = 0;
  const pending: Promise<void>[] = [];
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  const total = Math.round((rate * durationMs) / 1000);
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const t0 = performance.now();
    pending.push(
      call().then(
        () => void latencies.push(performance.now() - t0),
        () => {
          failures++;
          latencies.push(performance.now() - t0);
        },
      ),
    );
  }
  await Promise.all(pending);
  return summarize(latencies, failures, start, cpuStart);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export const fmt = (n: number, digits = 2) => n.toFixed(digits);

/** The bench's numeric command-line options (`--seconds 3`), with their defaults; a bad value exits naming it. */
export function numericArgs<K extends string>(defaults: Record<K, number>): Record<K, number> {
  const names = Object.keys(defaults) as K[];
  const { values } = parseArgs({ options: Object.fromEntries(names.map((name) => [name, { type: 'string' as const }])) });
  const result = { ...defaults };
  for (const name of names) {
    const text = (values as Record<string, string | undefined>)[name];
    if (text === undefined) continue;
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0) {
      console.error(`--${name} must be a number > 0, got ${JSON.stringify(text)}`);
      process.exit(2);
    }
    result[name] = value;
  }
  return result;
}
