#!/usr/bin/env node
// Runs a benchmark on the compiled JavaScript, as users run the library. (Under tsx, esbuild's
// keepNames wraps every closure the code creates in a name-setting call, which adds a per-call
// cost the published package does not have, and only to our side of each comparison.)
//
//   npm run bench -- <name> [bench options]     e.g.  npm run bench -- e2e --rounds 6
//   names: the files in bench/ (e2e, overhead, pick, slow-endpoint, failover, metrics, chaos)
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [name = 'e2e', ...args] = process.argv.slice(2);
const script = join(root, '.bench', 'bench', `${name}.js`);

const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.bench.json')], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
// The test helpers load the echo service's proto next to their compiled selves.
mkdirSync(join(root, '.bench', 'test', 'fixtures'), { recursive: true });
copyFileSync(join(root, 'test', 'fixtures', 'echo.proto'), join(root, '.bench', 'test', 'fixtures', 'echo.proto'));
if (!existsSync(script)) {
  console.error(`no benchmark "${name}" (bench/${name}.ts)`);
  process.exit(1);
}
const flags = name === 'pick' ? ['--expose-gc'] : [];
const run = spawnSync(process.execPath, [...flags, script, ...args], { stdio: 'inherit' });
process.exit(run.status ?? 1);
