import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Behaviour } from './echo-server';

export interface ChildServer {
  readonly address: string;
  readonly process: ChildProcess;
  /** The port it listens on. */
  readonly port: number;
  /** Sends `signal`; resolves once the process has exited. */
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** Starts an Echo server in a child process (see echo-process.ts). */
export function startChildServer(options: { name: string; port?: number; behaviour?: Behaviour }): Promise<ChildServer> {
  // Compiled (npm run bench) or run from source with tsx: the server's script is the same kind.
  const compiled = __filename.endsWith('.js');
  const script = join(__dirname, compiled ? 'echo-process.js' : 'echo-process.ts');
  const child = spawn(process.execPath, [...(compiled ? [] : ['--import', 'tsx']), script, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /READY (\S+)/.exec(out);
      if (match) {
        resolve({
          address: match[1],
          port: Number(match[1].slice(match[1].lastIndexOf(':') + 1)),
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
