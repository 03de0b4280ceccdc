import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc32c } from '../../../bench/e2e/raw-producer.ts';

describe('crc32c', () => {
  it('matches the CRC-32C check value and known vectors (RFC 3720)', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32c(Buffer.alloc(32, 0)), 0x8a9136aa);
    assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
    assert.equal(crc32c(Buffer.from([])), 0);
  });

  it('covers only the given range', () => {
    const b = Buffer.from('xx123456789yy');
    assert.equal(crc32c(b, 2, 11), 0xe3069283);
  });
});
