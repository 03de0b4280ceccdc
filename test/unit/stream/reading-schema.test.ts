import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import Ajv2020 from 'ajv/dist/2020.js';
import { createDecoder } from '../../../src/stream/decode.ts';

const schema = JSON.parse(fs.readFileSync('schemas/reading.schema.json', 'utf8'));
const validate = new Ajv2020.default({ strict: false }).compile(schema);
const decode = createDecoder();

// The schema and the decoder must agree on what is a valid message.
const cases: Array<[string, unknown]> = [
  ['single channel, epoch ms', { sensor: 'pump-7', ts: 1767225600000, value: 1.25 }],
  [
    'several channels, ISO 8601',
    { sensor: 'pump-7', ts: '2026-01-01T00:00:00Z', values: { temp: 71.2, vibration: 0.03 } },
  ],
  [
    'an array',
    [
      { sensor: 'a', ts: 1, value: 1 },
      { sensor: 'b', ts: '2026-01-01T00:00:00.5+01:00', values: { x: 2 } },
    ],
  ],
  ['no sensor', { ts: 1, value: 1 }],
  ['no timestamp', { sensor: 'a', value: 1 }],
  ['a text value', { sensor: 'a', ts: 1, value: '1' }],
  ['a date without a zone', { sensor: 'a', ts: '2026-01-01T00:00:00', value: 1 }],
  ['both value and values', { sensor: 'a', ts: 1, value: 1, values: { x: 1 } }],
  ['empty values', { sensor: 'a', ts: 1, values: {} }],
  ['an empty array', []],
  ['negative time', { sensor: 'a', ts: -1, value: 1 }],
];

describe('schemas/reading.schema.json', () => {
  for (const [name, message] of cases) {
    it(`agrees with the decoder on ${name}`, () => {
      const decoded = decode(JSON.stringify(message)).ok;
      assert.equal(
        validate(message),
        decoded,
        `schema says ${validate(message)}, decoder says ${decoded}`,
      );
    });
  }
});
