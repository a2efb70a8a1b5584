#!/usr/bin/env node
// Builds dist/: the type declarations with tsc, the code with esbuild as one CommonJS file.
// One file rather than one per source file: loading ~50 small modules cost more than the code in
// them (see `npm run bench -- require-time`). Dependencies stay outside (`require`d at run time,
// several only when their feature is first used). The source map carries the sources, since
// src/ is not shipped.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });

const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

await build({
  entryPoints: [join(root, 'src', 'index.ts')],
  outfile: join(dist, 'index.js'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  // The oldest Node the package supports (package.json "engines").
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  sourcesContent: true,
  // package.json says "sideEffects": false for users' bundlers (this file is all one module to
  // them), but inside it the built-in resolver schemes register themselves on import.
  ignoreAnnotations: true,
  logLevel: 'warning',
});
