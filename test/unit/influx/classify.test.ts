import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classify } from '../../../src/adapters/influx/influx-sink.ts';

class ServiceNotAvailableError extends Error {}

describe('classify (InfluxDB write failures)', () => {
  it('treats refused and reset connections as unreachable and retriable', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENOTFOUND']) {
      const error = Object.assign(new Error(code), { code });
      assert.deepEqual(classify(error), {
        kind: 'unreachable',
        retriable: true,
        databaseMissing: false,
      });
    }
  });

  it('treats socket timeouts and the client timeout as timeout', () => {
    assert.equal(classify(Object.assign(new Error('x'), { code: 'ETIMEDOUT' })).kind, 'timeout');
    assert.equal(classify(new ServiceNotAvailableError('Request timed out')).kind, 'timeout');
  });

  it('treats a 5xx (the client raises ServiceNotAvailableError) as a retriable server error', () => {
    assert.deepEqual(classify(new ServiceNotAvailableError('Internal Server Error')), {
      kind: 'server',
      retriable: true,
      databaseMissing: false,
    });
  });

  it('treats a 4xx as rejected and not retriable, except a missing database', () => {
    const partial = Object.assign(new Error('A 400 Bad Request error occurred: partial write'), {
      res: { statusCode: 400 },
    });
    assert.deepEqual(classify(partial), {
      kind: 'rejected',
      retriable: false,
      databaseMissing: false,
    });
    const missing = Object.assign(
      new Error('A 404 Not Found error occurred: {"error":"database not found: \\"x\\""}'),
      {
        res: { statusCode: 404 },
      },
    );
    assert.deepEqual(classify(missing), {
      kind: 'rejected',
      retriable: true,
      databaseMissing: true,
    });
  });

  it('treats a local failure without code or status as not retriable', () => {
    assert.deepEqual(classify(new Error("Expected numeric value for, timestamp, but got 'x'!")), {
      kind: 'other',
      retriable: false,
      databaseMissing: false,
    });
    assert.equal(classify(undefined).kind, 'other');
  });
});
