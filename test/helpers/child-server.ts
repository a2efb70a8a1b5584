import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Behaviour } from './echo-server';

export interface ChildServer {
  readonly address: string;
  readonly process: ChildProcess;
  /** Sends `signal`; resolves once the process has exited. */
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** Starts an Echo server in a child process (see echo-process.ts). */
export function startChildServer(options: { name: string; port?: number; behaviour?: Behaviour }): Promise<ChildServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'echo-process.ts'), JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /READY (\S+)/.exec(out);
      if (match) {
        resolve({
          address: match[1],
          process: child,
          kill: (signal) => {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return exited;
          },
        });
      }
    });
    child.once('exit', (code) => reject(new Error(`echo server process exited with ${code} before it was ready`)));
  });
}
