import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createDecoder } from '../../../src/stream/decode.ts';

const decode = createDecoder();

function rejected(payload: string | Buffer | null, options = {}) {
  const result = createDecoder(options)(payload);
  assert.equal(result.ok, false, `expected a rejection of ${String(payload)}`);
  return result as { ok: false; reason: string; detail: string };
}

describe('decode', () => {
  it('decodes a single-channel reading with an epoch-ms timestamp', () => {
    assert.deepEqual(decode('{"sensor":"pump-7","ts":1767225600000,"value":1.25}'), {
      ok: true,
      readings: [{ sensor: 'pump-7', ts: 1767225600000, values: { value: 1.25 } }],
    });
  });

  it('decodes a multi-channel reading with an ISO 8601 timestamp', () => {
    const result = decode(
      Buffer.from(
        '{"sensor":"pump-7","ts":"2026-01-01T00:00:00Z","values":{"temp":71.2,"vibration":0.03}}',
      ),
    );
    assert.deepEqual(result, {
      ok: true,
      readings: [{ sensor: 'pump-7', ts: 1767225600000, values: { temp: 71.2, vibration: 0.03 } }],
    });
  });

  it('honours an ISO offset other than Z, with or without its colon (as docs/messages.md says)', () => {
    for (const ts of ['2026-01-01T01:00:00+01:00', '2026-01-01T01:00:00+0100']) {
      const result = decode(`{"sensor":"a","ts":"${ts}","value":1}`);
      assert.ok(result.ok, ts);
      assert.equal(result.readings[0]?.ts, 1767225600000, ts);
    }
  });

  it('decodes a JSON array of readings', () => {
    const result = decode(
      '[{"sensor":"a","ts":1,"value":1},{"sensor":"b","ts":2,"values":{"x":2}}]',
    );
    assert.ok(result.ok);
    assert.deepEqual(
      result.readings.map((r) => r.sensor),
      ['a', 'b'],
    );
  });

  it('uses the configured field names and default channel', () => {
    const custom = createDecoder({
      sensorField: 'id',
      tsField: 'time',
      valueField: 'v',
      defaultChannel: 'temp',
    });
    assert.deepEqual(custom('{"id":"s","time":5,"v":3}'), {
      ok: true,
      readings: [{ sensor: 's', ts: 5, values: { temp: 3 } }],
    });
  });

  it('rejects what is not JSON', () => {
    assert.equal(rejected('{"sensor":').reason, 'not_json');
    assert.equal(rejected(Buffer.from([0xff, 0xfe])).reason, 'not_json');
  });

  it('rejects missing fields and names the field', () => {
    assert.equal(rejected('{"ts":1,"value":1}').reason, 'missing_field');
    assert.match(rejected('{"sensor":"a","value":1}').detail, /"ts"/);
    assert.equal(rejected('{"sensor":"a","ts":1}').reason, 'missing_field');
    assert.equal(rejected('42').reason, 'missing_field');
    assert.equal(rejected('[]').reason, 'missing_field');
    assert.equal(rejected(null).reason, 'missing_field');
  });

  it('rejects non-numeric and non-finite values', () => {
    assert.equal(rejected('{"sensor":"a","ts":1,"value":"1.5"}').reason, 'non_numeric');
    assert.equal(rejected('{"sensor":"a","ts":1,"values":{"x":null}}').reason, 'non_numeric');
    assert.equal(rejected('{"sensor":"a","ts":1,"value":1e999}').reason, 'non_finite');
  });

  it('rejects bad timestamps', () => {
    assert.equal(rejected('{"sensor":"a","ts":"yesterday","value":1}').reason, 'bad_timestamp');
    assert.equal(rejected('{"sensor":"a","ts":-5,"value":1}').reason, 'bad_timestamp');
    assert.equal(
      rejected('{"sensor":"a","ts":"2026-13-45T00:00:00Z","value":1}').reason,
      'bad_timestamp',
    );
    assert.equal(rejected('{"sensor":"a","ts":true,"value":1}').reason, 'bad_timestamp');
  });

  it('rejects a message over the size limit before parsing it', () => {
    const big = JSON.stringify({ sensor: 'a', ts: 1, value: 1, pad: 'x'.repeat(200) });
    assert.equal(rejected(big, { maxMessageBytes: 100 }).reason, 'too_large');
  });

  it('rejects a whole array when one element is bad', () => {
    const result = rejected('[{"sensor":"a","ts":1,"value":1},{"sensor":"b","ts":2,"value":"x"}]');
    assert.equal(result.reason, 'non_numeric');
    assert.match(result.detail, /element 1/);
  });

  it('rejects a reading whose channels differ from the expected ones', () => {
    const strict = { expectedChannels: ['temp', 'vibration'] };
    const result = rejected('{"sensor":"a","ts":1,"values":{"temp":1}}', strict);
    assert.equal(result.reason, 'unknown_channel');
    // Not "the model's": input.channels applies before any model exists.
    assert.equal(result.detail, 'channels [temp] differ from the expected [temp, vibration]');
    assert.ok(createDecoder(strict)('{"sensor":"a","ts":1,"values":{"vibration":1,"temp":2}}').ok);
  });

  it('rejects deeply nested values with a short detail instead of throwing', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    for (const payload of [
      `{"sensor":"a","ts":1,"value":${deep}}`,
      `{"sensor":"a","ts":${deep},"value":1}`,
      `{"sensor":"a","ts":1,"values":{"t":${deep}}}`,
    ]) {
      const result = rejected(payload);
      assert.match(result.reason, /^(non_numeric|bad_timestamp)$/);
      assert.ok(result.detail.length < 200, result.detail);
    }
  });

  it('quotes at most 200 characters of a bad value in the detail', () => {
    const long = 'x'.repeat(600_000);
    const result = rejected(JSON.stringify({ sensor: 'a', ts: 1, value: long }));
    assert.equal(result.reason, 'non_numeric');
    assert.ok(result.detail.length < 300, `detail of ${result.detail.length} chars`);
    assert.match(result.detail, /600000 chars/);
    const channels = Object.fromEntries(
      Array.from({ length: 5_000 }, (_, i) => [`channel-${i}`, 1]),
    );
    const strict = { expectedChannels: ['t'] };
    const many = rejected(JSON.stringify({ sensor: 'a', ts: 1, values: channels }), strict);
    assert.equal(many.reason, 'unknown_channel');
    assert.ok(many.detail.length <= 800, `detail of ${many.detail.length} chars`);
  });

  it('rejects an ISO 8601 date that does not exist', () => {
    for (const ts of ['2026-02-30T00:00:00Z', '2026-04-31T00:00:00Z', '2026-13-01T00:00:00Z']) {
      assert.equal(rejected(`{"sensor":"a","ts":"${ts}","value":1}`).reason, 'bad_timestamp', ts);
    }
    assert.ok(decode('{"sensor":"a","ts":"2024-02-29T00:00:00Z","value":1}').ok);
  });

  it('rejects a reading stamped more than maxFutureMs ahead of the clock', () => {
    const now = 1_767_225_600_000;
    const options = { maxFutureMs: 600_000, now: () => now };
    const at = (ts: number | string) => JSON.stringify({ sensor: 'a', ts, value: 1 });
    assert.ok(createDecoder(options)(at(now + 600_000)).ok, 'exactly at the limit');
    assert.ok(createDecoder(options)(at(now - 86_400_000)).ok, 'the past is not limited');
    const ahead = rejected(at(now + 600_001), options);
    assert.equal(ahead.reason, 'future_timestamp');
    assert.match(ahead.detail, /"ts" 1767226200001 is 10\.0 min ahead of this daemon's clock/);
    // The ISO form, a multi-channel reading and one element of an array take the same check.
    assert.equal(rejected(at('2031-01-01T00:00:00Z'), options).reason, 'future_timestamp');
    assert.match(rejected(at('2031-01-01T00:00:00Z'), options).detail, /1,826 days ahead/);
    const multi = JSON.stringify({ sensor: 'a', ts: now + 3_600_000, values: { x: 1 } });
    assert.match(rejected(multi, options).detail, /1\.0 h ahead/);
    const array = `[${at(now)},${at(now + 700_000)}]`;
    const inArray = rejected(array, options);
    assert.equal(inArray.reason, 'future_timestamp');
    assert.match(inArray.detail, /\(element 1\)$/);
    // The limit moves with the clock; 0 turns it off.
    let clock = now;
    const moving = createDecoder({ maxFutureMs: 1_000, now: () => clock });
    assert.equal(moving(at(now + 5_000)).ok, false);
    clock += 4_000;
    assert.ok(moving(at(now + 5_000)).ok);
    assert.ok(
      createDecoder({ maxFutureMs: 0, now: () => now })(at(now + 10 * 365 * 86_400_000)).ok,
    );
  });

  it('rejects a value that is not valid UTF-8', () => {
    const bytes = Buffer.concat([
      Buffer.from('{"sensor":"'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('","ts":1,"value":1}'),
    ]);
    const result = rejected(bytes);
    assert.equal(result.reason, 'not_json');
    assert.match(result.detail, /UTF-8/);
  });

  it('keeps a channel named __proto__ like any other', () => {
    const result = decode('{"sensor":"a","ts":1,"values":{"__proto__":1,"b":2}}');
    assert.ok(result.ok);
    assert.deepEqual(Object.keys(result.readings[0]!.values).sort(), ['__proto__', 'b']);
    assert.equal(
      Object.getOwnPropertyDescriptor(result.readings[0]!.values, '__proto__')?.value,
      1,
    );
  });

  it('decodes a lone reading exactly as the same reading inside an array (fast and full path agree)', () => {
    const field = fc.oneof(
      fc.string({ maxLength: 3 }),
      fc.constantFrom('', 'x'.repeat(257)),
      fc.double(),
      fc.integer({ min: -5, max: 253_402_300_800_005 }),
      fc.constantFrom(Number.MAX_VALUE, -0, 253_402_300_799_999.5, null, true),
      fc.constant({ value: 1 }),
      fc.constant(undefined),
    );
    const reading = fc.record({ sensor: field, ts: field, value: field, values: field });
    const options = fc.constantFrom(
      {},
      { expectedChannels: ['value'] },
      { expectedChannels: ['t'] },
    );
    fc.assert(
      fc.property(reading, options, (record, opts) => {
        const decodeWith = createDecoder(opts);
        const alone = decodeWith(JSON.stringify(record));
        const inArray = decodeWith(JSON.stringify([record]));
        assert.equal(alone.ok, inArray.ok);
        if (alone.ok && inArray.ok) assert.deepEqual(alone.readings, inArray.readings);
        if (!alone.ok && !inArray.ok) assert.equal(alone.reason, inArray.reason);
      }),
      { numRuns: 2_000 },
    );
  });
});
