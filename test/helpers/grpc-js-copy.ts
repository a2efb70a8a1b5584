import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';

/** The grpc-js version an "other app" runs in the two-copies tests: older than ours, as in the field. */
export const OTHER_GRPC_JS_VERSION = '1.13.4';
const FIXTURES = join(__dirname, '..', '..', '.tools', 'grpc-js');

/**
 * A second, separate copy of @grpc/grpc-js at `version`, installed from the npm registry into a
 * fixture folder under .tools/ on first use (later runs reuse it), and loaded as an app would.
 */
export function loadGrpcJsCopy(version = OTHER_GRPC_JS_VERSION): typeof grpc {
  const dir = join(FIXTURES, version);
  const pkg = join(dir, 'node_modules', '@grpc', 'grpc-js', 'package.json');
  if (!existsSync(pkg) || (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version !== version) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'grpc-js-fixture', private: true }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock', `@grpc/grpc-js@${version}`], { cwd: dir, stdio: 'pipe', timeout: 180_000 });
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(join(dir, 'node_modules', '@grpc', 'grpc-js')) as typeof grpc;
}
