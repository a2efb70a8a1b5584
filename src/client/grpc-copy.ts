// One grpc-js per client. grpc-js checks its objects with `instanceof`, so an object made by one
// copy of @grpc/grpc-js is refused — or worse, silently misread — by another: credentials throw
// when a channel connects, Metadata passed where a call expects it is taken for call options and
// dropped. An app can end up with two copies (a linked checkout of this library with its own
// node_modules, a bundler, an old lockfile). Here each client finds the copy its stub and
// credentials come from and makes its channels with that copy, converting Metadata made by any
// other; what cannot be made to work is refused at createClient, naming both copies.

import * as ours from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

type GrpcModule = typeof ours;

/** The grpc-js copy a client's channels are made with. */
export interface GrpcCopy {
  readonly module: GrpcModule;
  /** Client class for endpoint channels; converts Metadata from other copies on the way in. */
  readonly Client: typeof ours.Client;
  /** True when this is the library's own copy (the usual case: nothing to convert). */
  readonly isOurs: boolean;
}

const OUR_COPY: GrpcCopy = { module: ours, Client: ours.Client, isOurs: true };

/**
 * The grpc-js copy to use for a client of `stub` with `credentials`: the one the stub's class
 * extends (or, for a plain service definition, the one the credentials come from), else ours.
 * Throws when the two disagree or the copy cannot be found.
 */
export function grpcCopyOf(stub: unknown, credentials: unknown): GrpcCopy {
  const base = typeof stub === 'function' ? baseClient(stub) : undefined;
  let copy = OUR_COPY;
  if (base !== undefined && base !== ours.Client) {
    const found = loadedCopies().find((m) => m.Client === base);
    if (!found) {
      throw new TypeError(
        `createClient(stub): the stub extends a grpc-js Client that is not the @grpc/grpc-js grpc-lb-kit uses (${describe(ours)}), and that copy ` +
          'cannot be found among loaded modules (bundled?); make the app and grpc-lb-kit share one @grpc/grpc-js (it is a peer dependency: npm dedupe)',
      );
    }
    copy = adapted(found);
  }
  if (credentials !== undefined && !(credentials instanceof copy.module.ChannelCredentials)) {
    const owner = loadedCopies().find((m) => credentials instanceof m.ChannelCredentials);
    if (owner === undefined) {
      throw new TypeError('createClient: options.credentials must be grpc-js ChannelCredentials (grpc.credentials.createInsecure(), createSsl(…))');
    }
    if (base !== undefined && base !== ours.Client) {
      throw new TypeError(
        `createClient: options.credentials come from @grpc/grpc-js ${describe(owner)} but the stub from ${describe(copy.module)}; ` +
          'a channel needs both from one copy: make the app use one @grpc/grpc-js (npm dedupe)',
      );
    }
    // A plain service definition, or a stub of our copy with credentials of the app's: the
    // credentials decide, as they are what cannot be converted.
    copy = adapted(owner);
  }
  return copy;
}

/** Duck-typed Metadata check, true for Metadata of any grpc-js copy. */
export function isMetadata(value: unknown): value is ours.Metadata {
  if (value instanceof ours.Metadata) return true;
  if (value === null || typeof value !== 'object') return false;
  const m = value as Record<string, unknown>;
  return typeof m.getMap === 'function' && typeof m.toHttp2Headers === 'function' && typeof m.clone === 'function' && typeof m.add === 'function';
}

/** `metadata` as an instance of `module`'s Metadata: itself when it already is one, else a copy. */
export function metadataFor(module: GrpcModule, metadata: ours.Metadata): ours.Metadata {
  if (metadata instanceof module.Metadata) return metadata;
  return convertMetadata(module, metadata as MetadataLike);
}

/** What every grpc-js copy's Metadata offers. */
interface MetadataLike {
  getOptions?(): ours.MetadataOptions;
  toJSON(): Record<string, ours.MetadataValue[]>;
}

function convertMetadata(module: GrpcModule, metadata: MetadataLike): ours.Metadata {
  const copy = new module.Metadata(metadata.getOptions?.());
  for (const [key, values] of Object.entries(metadata.toJSON())) for (const value of values) copy.add(key, value);
  return copy;
}

const adaptedCopies = new WeakMap<GrpcModule, GrpcCopy>();

/** A copy whose Client converts foreign Metadata in every argument list it is given. */
function adapted(module: GrpcModule): GrpcCopy {
  if (module.Client === ours.Client) return OUR_COPY;
  let copy = adaptedCopies.get(module);
  if (copy) return copy;
  const convert = (args: unknown[]) => args.map((arg) => (isMetadata(arg) ? metadataFor(module, arg) : arg));
  class ConvertingClient extends module.Client {
    override makeUnaryRequest(...args: unknown[]): any {
      return (super.makeUnaryRequest as (...a: unknown[]) => unknown)(...convert(args));
    }
    override makeClientStreamRequest(...args: unknown[]): any {
      return (super.makeClientStreamRequest as (...a: unknown[]) => unknown)(...convert(args));
    }
    override makeServerStreamRequest(...args: unknown[]): any {
      return (super.makeServerStreamRequest as (...a: unknown[]) => unknown)(...convert(args));
    }
    override makeBidiStreamRequest(...args: unknown[]): any {
      return (super.makeBidiStreamRequest as (...a: unknown[]) => unknown)(...convert(args));
    }
  }
  copy = { module, Client: ConvertingClient as typeof ours.Client, isOurs: false };
  adaptedCopies.set(module, copy);
  return copy;
}

/** The grpc-js Client class a generated stub class extends (the last class before Object). */
function baseClient(stub: Function): Function | undefined {
  for (let c: unknown = stub; typeof c === 'function' && c !== Function.prototype; c = Object.getPrototypeOf(c)) {
    const proto = (c as { prototype?: Record<string, unknown> }).prototype;
    if (proto && Object.hasOwn(proto, 'makeUnaryRequest') && Object.hasOwn(proto, 'getChannel')) return c as Function;
  }
  return undefined;
}

/** Every loaded copy of grpc-js's main module (CommonJS, so ESM imports of it land here too). */
function loadedCopies(): GrpcModule[] {
  const found = new Set<GrpcModule>([ours]);
  for (const entry of Object.values(require.cache)) {
    const exports = entry?.exports as Partial<GrpcModule> | undefined;
    if (exports && typeof exports.Client === 'function' && typeof exports.Metadata === 'function' && typeof exports.ChannelCredentials === 'function' && exports.credentials) {
      found.add(exports as GrpcModule);
    }
  }
  return [...found];
}

/** "1.14.7 at /app/node_modules/@grpc/grpc-js", for messages. */
function describe(module: GrpcModule): string {
  const entry = Object.values(require.cache).find((m) => m?.exports === module || (m?.exports as Partial<GrpcModule> | undefined)?.Client === module.Client);
  if (!entry) return 'an unknown version';
  for (let dir = dirname(entry.filename), i = 0; i < 4; i++, dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === '@grpc/grpc-js') return `${pkg.version} at ${dir}`;
    } catch {
      // not this folder
    }
  }
  return `at ${dirname(entry.filename)}`;
}
