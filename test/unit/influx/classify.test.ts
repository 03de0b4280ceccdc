import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classify, partialWriteRefused } from '../../../src/adapters/influx/influx-sink.ts';

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

/** An error as the influx package raises it for a 400 with this influxd answer. */
function answer400(error: string): Error {
  const body = `${JSON.stringify({ error })}\n`;
  return Object.assign(new Error(`A 400 Bad Request error occurred: ${body}`), {
    res: { statusCode: 400 },
  });
}

// The answers are influxd 1.6.7's, copied from its responses to such writes.
describe('partialWriteRefused (InfluxDB 1.x partial writes)', () => {
  it('counts the lines that failed to parse', () => {
    const error = answer400(
      "partial write: unable to parse 'tsad_window,sensor=pump': missing fields\n" +
        "unable to parse 'tsad_window,sensor=ends\\,model_version=v1 score=0.1 1795992933689': invalid tag format dropped=0",
    );
    assert.equal(partialWriteRefused(error, 5), 2);
  });

  it('counts the points parsed but not stored (dropped=N)', () => {
    const error = answer400(
      'partial write: field type conflict: input field "mode" on measurement "tsad_reading" is type float, already exists as type string dropped=1',
    );
    assert.equal(partialWriteRefused(error, 7), 1);
    const retention = answer400('partial write: points beyond retention policy dropped=3');
    assert.equal(partialWriteRefused(retention, 3), 3);
  });

  it('is undefined for a 400 that stored nothing, and for anything that is no influxd answer', () => {
    const none = answer400(
      "unable to parse 'm v=1 32503680000000': time outside range -9223372036854775806 - 9223372036854775806",
    );
    assert.equal(partialWriteRefused(none, 1), undefined);
    assert.equal(partialWriteRefused(new Error('socket hang up'), 4), undefined);
    assert.equal(
      partialWriteRefused(new Error('A 400 Bad Request error occurred: 5'), 4),
      undefined,
    );
    assert.equal(partialWriteRefused(undefined, 4), undefined);
  });

  it('counts at least one point and at most the batch', () => {
    assert.equal(partialWriteRefused(answer400('partial write: something new dropped=0'), 4), 1);
    assert.equal(partialWriteRefused(answer400('partial write: x dropped=9'), 4), 4);
  });
});
