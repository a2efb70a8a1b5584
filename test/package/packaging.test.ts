// The package as users install it: `npm pack`, the tarball installed into fresh CommonJS, ESM and
// TypeScript (nodenext and bundler resolution) projects, one call from each against a real
// server, and one app bundled with esbuild and run from the bundle alone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ECHO_PROTO, startEchoServer, type EchoServer } from '../helpers/echo-server';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
const NODE_MODULES = join(ROOT, 'node_modules');
/** npm pack builds dist/ and installs resolve the tarball's dependencies: allow for a slow registry. */
const INSTALL_TIMEOUT_MS = 240_000;

let work: string;
let server: EchoServer;

/** The app every project runs: one unary call through createClient, printing the reply as JSON. */
const APP_BODY = `
const packageDefinition = protoLoader.loadSync(PROTO, { keepCase: false, defaults: true });
const { Echo } = grpc.loadPackageDefinition(packageDefinition).test.echo;
const client = createClient(Echo, { target: \`static:///\${process.env.ECHO_ADDRESS}\`, healthCheck: process.env.HEALTH === '1' });
client.unary({ message: 'packaged' }, (error, reply) => {
  client.close();
  if (error) {
    console.error(error.message);
    process.exit(1);
  }
  console.log(JSON.stringify({ message: reply.message, server: reply.server }));
});
`;

const TS_APP = `
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createClient, weightedRoundRobin, type ClientOptions } from 'grpc-lb-kit';

interface EchoReply { message: string; server: string }
type EchoStub = grpc.Client & { unary(request: { message: string }, callback: (error: grpc.ServiceError | null, reply?: EchoReply) => void): grpc.ClientUnaryCall };

const PROTO = process.env.ECHO_PROTO as string;
const packageDefinition = protoLoader.loadSync(PROTO, { keepCase: false, defaults: true });
const Echo = (grpc.loadPackageDefinition(packageDefinition) as any).test.echo.Echo as grpc.ServiceClientConstructor;
const options: ClientOptions = { target: \`static:///\${process.env.ECHO_ADDRESS}\`, balancer: weightedRoundRobin(), healthCheck: process.env.HEALTH === '1' };
const client = createClient(Echo, options) as unknown as EchoStub & { close(): void };
client.unary({ message: 'packaged' }, (error, reply) => {
  client.close();
  if (error || !reply) {
    console.error(error?.message);
    process.exit(1);
  }
  console.log(JSON.stringify({ message: reply.message, server: reply.server }));
});
`;

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

async function node(cwd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run(process.execPath, args, {
    cwd,
    env: { ...process.env, ECHO_ADDRESS: server.address, ECHO_PROTO: join(work, 'echo.proto'), ...env },
    timeout: 60_000,
  });
  return stdout;
}

function assertReply(stdout: string, where: string): void {
  const reply = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { message?: string; server?: string };
  assert.equal(reply.message, 'packaged', `${where}: ${stdout}`);
  assert.equal(reply.server, server.name, where);
}

before(async () => {
  server = await startEchoServer({ name: 'packaged-server' });
  work = mkdtempSync(join(tmpdir(), 'grpc-lb-kit-package-'));
  copyFileSync(ECHO_PROTO, join(work, 'echo.proto'));
  // npm pack runs prepack, which builds dist/ from the sources.
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: ROOT, timeout: INSTALL_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 });
  const [{ filename }] = JSON.parse(stdout.slice(stdout.indexOf('['))) as { filename: string }[];
  const own = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string>; dependencies: Record<string, string> };
  const grpcVersion = own.devDependencies['@grpc/grpc-js'] ?? own.dependencies['@grpc/grpc-js'];
  // One install that the project folders below share, as sibling apps of a monorepo would.
  writeJson(join(work, 'package.json'), {
    name: 'packaging-check',
    private: true,
    dependencies: {
      'grpc-lb-kit': `file:./${filename}`,
      '@grpc/grpc-js': grpcVersion,
      '@grpc/proto-loader': own.dependencies['@grpc/proto-loader'] ?? '^0.8.0',
    },
  });
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: work, timeout: INSTALL_TIMEOUT_MS });
});

after(async () => {
  await server?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('the tarball holds dist, types, LICENSE and README, and nothing from the sources or tests', async () => {
  const installed = join(work, 'node_modules', 'grpc-lb-kit');
  const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(manifest.license, 'Apache-2.0');
  assert.match(readFileSync(join(installed, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0/);
  assert.ok(readFileSync(join(installed, 'dist', 'index.d.ts'), 'utf8').includes('createClient'));
  const map = JSON.parse(readFileSync(join(installed, 'dist', 'index.js.map'), 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] };
  assert.equal(map.sourcesContent?.length, map.sources.length, 'the source map carries every source it names');
  assert.ok(map.sourcesContent!.every((source) => typeof source === 'string' && source.length > 0));
  // Only the public entry point: internals cannot be imported deeply.
  await assert.rejects(node(work, ['-e', "require('grpc-lb-kit/dist/resolver/consul')"]), /ERR_PACKAGE_PATH_NOT_EXPORTED/);
});

test('CommonJS: require and one call', async () => {
  const dir = join(work, 'cjs');
  mkdirSync(dir);
  writeJson(join(dir, 'package.json'), { type: 'commonjs' });
  writeFileSync(
    join(dir, 'app.js'),
    `const grpc = require('@grpc/grpc-js');\nconst protoLoader = require('@grpc/proto-loader');\nconst { createClient } = require('grpc-lb-kit');\nconst PROTO = process.env.ECHO_PROTO;\n${APP_BODY}`,
  );
  assertReply(await node(dir, ['app.js']), 'commonjs');
});

test('ESM: named imports and one call', async () => {
  const dir = join(work, 'esm');
  mkdirSync(dir);
  writeJson(join(dir, 'package.json'), { type: 'module' });
  writeFileSync(
    join(dir, 'app.js'),
    `import * as grpc from '@grpc/grpc-js';\nimport * as protoLoader from '@grpc/proto-loader';\nimport { createClient } from 'grpc-lb-kit';\nconst PROTO = process.env.ECHO_PROTO;\n${APP_BODY}`,
  );
  assertReply(await node(dir, ['app.js']), 'esm');
});

for (const resolution of ['nodenext', 'bundler'] as const) {
  test(`TypeScript (moduleResolution ${resolution}): type-checks against the published types and makes one call`, async () => {
    const dir = join(work, `ts-${resolution}`);
    mkdirSync(dir);
    writeJson(join(dir, 'package.json'), { type: resolution === 'nodenext' ? 'module' : 'commonjs' });
    writeJson(join(dir, 'tsconfig.json'), {
      compilerOptions: {
        target: 'ES2022',
        module: resolution === 'nodenext' ? 'nodenext' : 'esnext',
        moduleResolution: resolution,
        strict: true,
        outDir: 'out',
        types: ['node'],
        typeRoots: [join(NODE_MODULES, '@types')],
        skipLibCheck: false,
      },
      files: ['app.ts'],
    });
    writeFileSync(join(dir, 'app.ts'), TS_APP);
    await run(process.execPath, [join(NODE_MODULES, 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: dir, timeout: 120_000 }).catch((error: { stdout?: string }) => {
      assert.fail(`tsc failed: ${error.stdout}`);
    });
    if (resolution === 'nodenext') {
      assertReply(await node(dir, [join('out', 'app.js')]), 'ts nodenext');
      return;
    }
    // Bundler resolution is what bundled apps use: bundle the app (grpc-js, proto-loader and this
    // package included) into one file with esbuild and run that file from elsewhere, health
    // checks on (their proto must travel inside the bundle).
    const { build } = await import('esbuild');
    const elsewhere = mkdtempSync(join(tmpdir(), 'grpc-lb-kit-bundle-'));
    const bundle = join(elsewhere, 'app.js');
    await build({ entryPoints: [join(dir, 'app.ts')], outfile: bundle, bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'error', absWorkingDir: dir });
    try {
      assertReply(await node(elsewhere, ['app.js'], { HEALTH: '1', NODE_PATH: '' }), 'esbuild bundle');
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });
}
