/**
 * MurmurHash3, x86 32-bit variant (Austin Appleby, public domain), the hash of Cassandra's and
 * Guava's consistent hashing. No state and no random seed, so every process and every language
 * with a MurmurHash3 computes the same ring. Fast on short keys, and its avalanche spreads ring
 * points evenly; it is not meant to resist adversarial keys.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

function scramble(k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, C2);
}

function mixBlock(h: number, k: number): number {
  h ^= scramble(k);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** The final avalanche; returns the hash's 32 bits as a signed integer. */
function finish(h: number, tail: number, tailBytes: number, length: number): number {
  if (tailBytes > 0) h ^= scramble(tail);
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * MurmurHash3_x86_32 of the UTF-8 encoding of `text` (lone surrogates as U+FFFD, as
 * Buffer.from(text) encodes them), computed from the UTF-16 code units directly so hashing
 * allocates nothing. Unsigned, as the reference implementation prints it.
 */
export function murmur3(text: string, seed = 0): number {
  return murmur3Int32(text, seed) >>> 0;
}

/** murmur3(text, seed) as a signed 32-bit integer: a small integer to V8, never a heap number. */
export function murmur3Int32(text: string, seed: number): number {
  let h = seed | 0;
  let block = 0;
  let filled = 0;
  let length = 0;
  const units = text.length;
  for (let i = 0; i < units; i++) {
    let c = text.charCodeAt(i);
    let bytes: number;
    let count: number;
    if (c < 0x80) {
      bytes = c;
      count = 1;
    } else if (c < 0x800) {
      bytes = (0xc0 | (c >> 6)) | ((0x80 | (c & 0x3f)) << 8);
      count = 2;
    } else {
      if (c >= 0xd800 && c < 0xe000) {
        const low = i + 1 < units ? text.charCodeAt(i + 1) : 0;
        if (c < 0xdc00 && low >= 0xdc00 && low < 0xe000) {
          const point = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
          i++;
          bytes =
            (0xf0 | (point >> 18)) |
            ((0x80 | ((point >> 12) & 0x3f)) << 8) |
            ((0x80 | ((point >> 6) & 0x3f)) << 16) |
            ((0x80 | (point & 0x3f)) << 24);
          count = 4;
        } else {
          c = 0xfffd;
          bytes = (0xe0 | (c >> 12)) | ((0x80 | ((c >> 6) & 0x3f)) << 8) | ((0x80 | (c & 0x3f)) << 16);
          count = 3;
        }
      } else {
        bytes = (0xe0 | (c >> 12)) | ((0x80 | ((c >> 6) & 0x3f)) << 8) | ((0x80 | (c & 0x3f)) << 16);
        count = 3;
      }
    }
    length += count;
    for (; count > 0; count--) {
      block |= (bytes & 0xff) << filled;
      bytes >>>= 8;
      filled += 8;
      if (filled === 32) {
        h = mixBlock(h, block);
        block = 0;
        filled = 0;
      }
    }
  }
  return finish(h, block, filled >> 3, length);
}

/** MurmurHash3_x86_32 of raw bytes, unsigned; equals murmur3(text) for the UTF-8 bytes of text. */
export function murmur3Bytes(bytes: Uint8Array, seed = 0): number {
  return murmur3BytesInt32(bytes, seed) >>> 0;
}

/** murmur3Bytes(bytes, seed) as a signed 32-bit integer. */
export function murmur3BytesInt32(bytes: Uint8Array, seed: number): number {
  let h = seed | 0;
  const length = bytes.length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    h = mixBlock(h, bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
  }
  let tail = 0;
  for (let i = whole, shift = 0; i < length; i++, shift += 8) tail |= bytes[i] << shift;
  return finish(h, tail, length - whole, length);
}
