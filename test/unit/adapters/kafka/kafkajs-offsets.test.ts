/**
 * kafkajs is patched (patches/kafkajs+2.2.4.patch, applied by patch-package at
 * install) so that it does not parse a record batch's first offset and
 * timestamp from their decimal strings once per record, adds the records'
 * deltas to them as numbers while that is exact, reads short varlongs without
 * a Long per byte, and does not parse each message's offset into a Long to
 * compare it with the fetched offset. These tests pin what the patched code
 * must still return, values beyond 2^53 included.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';

const require = createRequire(import.meta.url);
const Long = require('kafkajs/src/utils/long');
const Encoder = require('kafkajs/src/protocol/encoder');
const Decoder = require('kafkajs/src/protocol/decoder');
const { RecordBatch: encodeRecordBatch } = require('kafkajs/src/protocol/recordBatch/v0');
const decodeRecordBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder');
const encodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0');
const Batch = require('kafkajs/src/consumer/batch');

interface DecodedRecord {
  offset: string;
  timestamp: string;
  value: Buffer;
  batchContext: { firstOffsetParsed?: unknown };
}

async function roundTrip(
  firstOffset: string,
  firstTimestamp: string,
  count: number,
  timestampDelta: (i: number) => number | string = (i) => 1000 * i,
) {
  const records = Array.from({ length: count }, (_, i) =>
    encodeRecord({
      offsetDelta: i,
      timestampDelta: Long.fromValue(timestampDelta(i)),
      key: null,
      value: Buffer.from(`v${i}`),
    }),
  );
  const encoded = await encodeRecordBatch({
    firstOffset: Long.fromString(firstOffset),
    firstTimestamp: Long.fromString(firstTimestamp),
    maxTimestamp: Long.fromString(firstTimestamp),
    lastOffsetDelta: count - 1,
    records,
  });
  const buffer = new Encoder().writeEncoder(encoded).buffer;
  const batch = await decodeRecordBatch(new Decoder(buffer));
  return batch.records as DecodedRecord[];
}

test('each record of a batch gets the batch first offset and timestamp plus its deltas, past 2^53 too', async () => {
  const records = await roundTrip('9007199254740990', '1764400000000', 5);
  assert.deepEqual(
    records.map((r) => r.offset),
    [
      '9007199254740990',
      '9007199254740991',
      '9007199254740992',
      '9007199254740993',
      '9007199254740994',
    ],
  );
  assert.deepEqual(
    records.map((r) => r.timestamp),
    ['1764400000000', '1764400001000', '1764400002000', '1764400003000', '1764400004000'],
  );
  assert.deepEqual(
    records.map((r) => r.value.toString()),
    ['v0', 'v1', 'v2', 'v3', 'v4'],
  );
});

test('the patch is applied: the batch parses its first offset once, for all its records', async () => {
  // Without patches/kafkajs+2.2.4.patch (patch-package did not run, or kafkajs
  // changed) the offsets above are still right, only slower; this says so.
  const records = await roundTrip('42', '1764400000000', 3);
  const shared = records[0]!.batchContext;
  assert.ok(shared.firstOffsetParsed, 'kafkajs is not patched: run `npx patch-package`');
  for (const record of records) assert.equal(record.batchContext, shared);
  // The varlong reader returns the same Longs either way; only its source tells them apart.
  assert.match(
    String(Decoder.prototype.readVarLong),
    /Up to 7 bytes \(49 bits\) are read as a number/,
    'kafkajs decoder.js is not patched: run `npx patch-package`',
  );
});

test('timestamps past 2^53, and deltas that go back in time, are added exactly', async () => {
  // Producers set record timestamps, in any order; the deltas may be negative.
  const back = await roundTrip('0', '1764400000000', 3, (i) => [0, -5000, 250][i]!);
  assert.deepEqual(
    back.map((r) => r.timestamp),
    ['1764400000000', '1764399995000', '1764400000250'],
  );
  // Past 2^53 a number cannot hold every timestamp: 9007199254740993 has no double.
  const large = await roundTrip('0', '9007199254740990', 4, (i) => i);
  assert.deepEqual(
    large.map((r) => r.timestamp),
    ['9007199254740990', '9007199254740991', '9007199254740992', '9007199254740993'],
  );
  const negative = await roundTrip('0', '-9007199254740990', 2, (i) => -3 * i);
  assert.deepEqual(
    negative.map((r) => r.timestamp),
    ['-9007199254740990', '-9007199254740993'],
  );
  // A delta past 2^53 is inexact as a number even when the sum would be small.
  const wide = await roundTrip('0', '9007199254740990', 2, (i) => ['0', '-9007199254740993'][i]!);
  assert.deepEqual(
    wide.map((r) => r.timestamp),
    ['9007199254740990', '-3'],
  );
  // So is a first timestamp past 2^53, even when the sum is back below it.
  const back2 = await roundTrip('0', '9007199254740993', 2, (i) => -10 * i);
  assert.deepEqual(
    back2.map((r) => r.timestamp),
    ['9007199254740993', '9007199254740983'],
  );
});

test('varlongs of every length read back as the Long written', () => {
  const values = [
    '0',
    '1',
    '-1',
    '63',
    '-64',
    '64',
    '-65',
    '8191',
    '8192',
    '1764400000000',
    '-1764400000000',
    // 2^48 - 1 and 2^48: the last that fits seven bytes and the first that does not.
    '281474976710655',
    '281474976710656',
    '-281474976710656',
    '-281474976710657',
    '9007199254740991',
    '9007199254740993',
    '-9007199254740993',
    '9223372036854775807',
    '-9223372036854775808',
  ];
  for (let shift = 0; shift < 63; shift += 5) {
    values.push(
      Long.ONE.shiftLeft(shift).toString(),
      Long.ONE.shiftLeft(shift).negate().toString(),
    );
  }
  const encoder = new Encoder();
  for (const value of values) encoder.writeVarLong(Long.fromString(value));
  encoder.writeInt8(42);
  const decoder = new Decoder(encoder.buffer);
  for (const value of values) assert.equal(decoder.readVarLong().toString(), value, value);
  // Every byte consumed, no more: the next field reads right.
  assert.equal(decoder.readInt8(), 42);
});

test('a second batch decodes from its own first offset, not the previous batch’s', async () => {
  await roundTrip('100', '1764400000000', 3);
  const records = await roundTrip('7', '1764500000000', 2);
  assert.deepEqual(
    records.map((r) => [r.offset, r.timestamp]),
    [
      ['7', '1764500000000'],
      ['8', '1764500001000'],
    ],
  );
});

const messages = (offsets: string[]) => ({
  partition: 0,
  highWatermark: '100',
  abortedTransactions: [],
  messages: offsets.map((offset) => ({ offset, isControlRecord: false })),
});

test('a fetched batch keeps the messages at or after the fetched offset', () => {
  const batch = new Batch('t', '5', messages(['3', '4', '5', '6', '7']));
  assert.deepEqual(
    batch.messages.map((m: { offset: string }) => m.offset),
    ['5', '6', '7'],
  );
  // The fetched offset may come as a Long as well as a string.
  const fromLong = new Batch('t', Long.fromNumber(6), messages(['5', '6']));
  assert.deepEqual(
    fromLong.messages.map((m: { offset: string }) => m.offset),
    ['6'],
  );
});

test('offsets past 2^53, which numbers cannot tell apart, are compared exactly', () => {
  // As numbers 9007199254740992 and ...993 are equal; as Longs they differ.
  const batch = new Batch(
    't',
    '9007199254740993',
    messages(['9007199254740992', '9007199254740993', '9007199254740994']),
  );
  assert.deepEqual(
    batch.messages.map((m: { offset: string }) => m.offset),
    ['9007199254740993', '9007199254740994'],
  );
});
