import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { murmur3, murmur3Bytes } from '../../../src/balancer/murmur3';

describe('murmur3', () => {
  // Reference vectors of MurmurHash3_x86_32 (SMHasher), so any process or language agrees with us.
  const vectors: [string, number, number][] = [
    ['', 0, 0],
    ['', 1, 0x514e28b7],
    ['', 0xffffffff, 0x81f16f39],
    ['\0\0\0\0', 0, 0x2362f9de],
    ['aaaa', 0x9747b28c, 0x5a97808a],
    ['abc', 0, 0xb3dd93fa],
    ['abcd', 0x9747b28c, 0xf0478627],
    ['hello', 0, 0x248bfa47],
    ['Hello, world!', 0x9747b28c, 0x24884cba],
    ['The quick brown fox jumps over the lazy dog', 0, 0x2e4ff723],
    ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
    ['ππππππππ', 0x9747b28c, 0xd58063c1],
  ];

  test('matches the reference vectors, for strings and bytes', () => {
    for (const [text, seed, expected] of vectors) {
      assert.equal(murmur3(text, seed), expected, `murmur3(${JSON.stringify(text)}, ${seed})`);
      assert.equal(murmur3Bytes(Buffer.from(text), seed), expected, `murmur3Bytes(${JSON.stringify(text)}, ${seed})`);
    }
  });

  test('hashes strings as their UTF-8 bytes, surrogate pairs and lone surrogates included', () => {
    for (const text of ['é', '€', '😀x', 'a\ud800b', '\udc00', 'tail\ud83d', 'mixed é€😀 text of some length']) {
      assert.equal(murmur3(text, 7), murmur3Bytes(Buffer.from(text), 7), JSON.stringify(text));
    }
  });
});
