import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newClusterId } from '../../harness/kafka.ts';

test('cluster ids are 16 bytes of base64url that the storage tool cannot mistake for an option', () => {
  // One plain base64url id in 64 starts with '-': about 156 of 10,000 draws.
  for (let i = 0; i < 10_000; i += 1) {
    const id = newClusterId();
    assert.match(id, /^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    assert.equal(Buffer.from(id, 'base64url').length, 16);
  }
});
