// What loading the library costs an application: `require` of the compiled package against
// `require('@grpc/grpc-js')` alone, each in a fresh Node process (nothing cached), rounds
// alternating A B B A so machine noise hits both alike. Prints medians, ranges and the ratio, and
// the modules each loads. Optional parts (prom-client, the protobuf runtime for health checks,
// the consul client) must not be among the library's.
//
//   npm run bench -- require-time [--rounds 10]     (builds dist/ first)
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fmt, median, numericArgs } from './support/harness';

const { rounds } = numericArgs({ rounds: 10 });

const ROOT = join(__dirname, '..', '..');
/** The package as published: dist/, built here by the package's own build. */
const LIBRARY = join(ROOT, 'dist', 'index.js');
/** Packages that load only when their feature is used. */
const OPTIONAL = ['prom-client', 'protobufjs', '@grpc/proto-loader', 'consul', 'papi', 'grpc-health-check'];

interface Sample {
  /** Wall time of the require. */
  ms: number;
  /** CPU time (user + system) of the require: less disturbed by other processes on a busy machine. */
  cpuMs: number;
  modules: string[];
}

function measure(request: string): Sample {
  const script = `
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    require(${JSON.stringify(request)});
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    const used = process.cpuUsage(cpu);
    process.stdout.write(JSON.stringify({ ms, cpuMs: (used.user + used.system) / 1e3, modules: Object.keys(require.cache) }));
  `;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' })) as Sample;
}

function main(): void {
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { stdio: 'inherit' });
  const grpcOnly: Sample[] = [];
  const library: Sample[] = [];
  // Warm the file system cache for both before anything counts.
  measure('@grpc/grpc-js');
  measure(LIBRARY);
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? ['a', 'b', 'b', 'a'] : ['b', 'a', 'a', 'b'];
    for (const which of order) (which === 'a' ? grpcOnly : library).push(measure(which === 'a' ? '@grpc/grpc-js' : LIBRARY));
  }
  const loaded = library[0].modules;
  const optionalLoaded = OPTIONAL.filter((name) => loaded.some((path) => path.includes(`/node_modules/${name}/`)));
  const range = (values: number[], digits = 1) => `${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)}`;
  for (const [label, pick] of [
    ['wall', (s: Sample) => s.ms],
    ['CPU', (s: Sample) => s.cpuMs],
  ] as const) {
    const a = grpcOnly.map(pick);
    const b = library.map(pick);
    const ratios = b.map((ms, i) => ms / a[i]);
    console.log(`${label} time: @grpc/grpc-js alone median ${fmt(median(a), 1)} ms (${range(a)}); grpc-lb-kit median ${fmt(median(b), 1)} ms (${range(b)}); ratio median ${fmt(median(ratios))} (${range(ratios, 2)}); goal ≤ 1.5`);
  }
  console.log(`modules: @grpc/grpc-js alone ${grpcOnly[0].modules.length}, grpc-lb-kit ${loaded.length}`);
  console.log(`optional packages loaded at require time: ${optionalLoaded.length === 0 ? 'none' : optionalLoaded.join(', ')}`);
}

main();
