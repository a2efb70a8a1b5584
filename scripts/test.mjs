#!/usr/bin/env node
// Runs the test suite with Node's own test runner. Node 20's `--test` does not expand globs, so
// the files are collected here. Arguments narrow the run to folders or files.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function collect(path, out) {
  if (statSync(path).isDirectory()) {
    for (const name of readdirSync(path).sort()) collect(join(path, name), out);
  } else if (path.endsWith('.test.ts')) {
    out.push(path);
  }
  return out;
}

const roots = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const flags = process.argv.slice(2).filter((a) => a.startsWith('-'));
const files = (roots.length ? roots : ['test']).flatMap((r) => collect(r, []));
if (files.length === 0) {
  console.error('no test files found under', roots.join(', ') || 'test');
  process.exit(1);
}
// A test that hangs fails after TEST_TIMEOUT_MS instead of holding the run until CI's limit.
// (Not --test-force-exit: on Node 22 it ends the run before every file has reported.)
const TEST_TIMEOUT_MS = 180_000;
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', `--test-timeout=${TEST_TIMEOUT_MS}`, ...flags, ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
