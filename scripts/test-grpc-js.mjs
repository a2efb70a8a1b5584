#!/usr/bin/env node
// Runs tests against another @grpc/grpc-js version than the one installed, by default the lowest
// the peer dependency admits, so that the range package.json promises is a tested one:
//   node scripts/test-grpc-js.mjs [version] [test files or folders…]   (default: test/integration)
// The version is installed from the npm registry into .tools/grpc-js/<version>; the tests run in
// a temporary copy of the project whose node_modules links every package but grpc-js to ours.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const range = pkg.peerDependencies?.['@grpc/grpc-js'] ?? '';
const lowest = /(\d+\.\d+\.\d+)/.exec(range)?.[1];
const args = process.argv.slice(2);
const version = args[0] && /^\d+\.\d+\.\d+$/.test(args[0]) ? args.shift() : lowest;
if (!version) {
  console.error(`test-grpc-js: no version given and none found in peerDependencies ("${range}")`);
  process.exit(2);
}

const fixture = join(root, '.tools', 'grpc-js', version);
const installed = join(fixture, 'node_modules', '@grpc', 'grpc-js');
if (!existsSync(join(installed, 'package.json')) || JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')).version !== version) {
  mkdirSync(fixture, { recursive: true });
  writeFileSync(join(fixture, 'package.json'), JSON.stringify({ name: 'grpc-js-fixture', private: true }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock', `@grpc/grpc-js@${version}`], { cwd: fixture, stdio: 'inherit' });
}

const work = mkdtempSync(join(tmpdir(), `grpc-lb-kit-grpc-js-${version}-`));
try {
  for (const entry of ['src', 'test', 'scripts', 'package.json', 'tsconfig.json']) cpSync(join(root, entry), join(work, entry), { recursive: true });
  symlinkSync(join(root, '.tools'), join(work, '.tools'));
  const modules = join(work, 'node_modules');
  mkdirSync(join(modules, '@grpc'), { recursive: true });
  for (const name of readdirSync(join(root, 'node_modules'))) {
    if (name !== '@grpc') symlinkSync(join(root, 'node_modules', name), join(modules, name));
  }
  for (const name of readdirSync(join(root, 'node_modules', '@grpc'))) {
    if (name !== 'grpc-js') symlinkSync(join(root, 'node_modules', '@grpc', name), join(modules, '@grpc', name));
  }
  symlinkSync(installed, join(modules, '@grpc', 'grpc-js'));
  console.log(`test-grpc-js: @grpc/grpc-js ${version}, ${args.length ? args.join(' ') : 'test/integration'}`);
  const result = spawnSync(process.execPath, ['scripts/test.mjs', ...(args.length ? args : ['test/integration'])], { cwd: work, stdio: 'inherit' });
  process.exitCode = result.status ?? 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
