import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  encodeFieldKey,
  encodeTagValue,
} from '../../../src/adapters/influx/line-protocol-encode.ts';

/** The inverse documented in docs/dashboards.md: a stored value with `\u` has each `\uXXXX` replaced. */
function decode(stored: string): string {
  if (!stored.includes('\\u')) return stored;
  return stored.replace(/\\u([0-9a-f]{4})/g, (_, hex: string) =>
    String.fromCharCode(Number.parseInt(hex, 16)),
  );
}

/** Strings rich in the characters that matter here. */
const oddStrings = fc.string({
  unit: fc.constantFrom('a', 'u', '0', '\\', '\n', "'", ',', ' ', '=', '"', '\t', 'ü'),
  maxLength: 12,
});

describe('encodeTagValue', () => {
  it('leaves values line protocol carries faithfully as they are', () => {
    for (const value of [
      'pump-7',
      'a,b c=d',
      'q"uote',
      'mid\\slash',
      'tab\tcr\r',
      'Füße',
      "it's",
    ]) {
      assert.equal(encodeTagValue(value), value);
    }
  });

  it('writes newlines and backslashes as \\u000a and \\u005c where a value needs it', () => {
    assert.equal(encodeTagValue('pump\n7'), 'pump\\u000a7');
    assert.equal(encodeTagValue('ends\\'), 'ends\\u005c');
    assert.equal(encodeTagValue('a\\b\\'), 'a\\u005cb\\u005c');
    assert.equal(encodeTagValue("back\\'quote"), "back\\u005c'quote");
    assert.equal(encodeTagValue('looks\\u0041encoded'), 'looks\\u005cu0041encoded');
  });

  it('never leaves a newline, a trailing backslash or a backslash before a quote', () => {
    fc.assert(
      fc.property(oddStrings, (value) => {
        const stored = encodeTagValue(value);
        assert.ok(!stored.includes('\n'));
        assert.ok(!stored.endsWith('\\'));
        assert.ok(!stored.includes("\\'"));
      }),
    );
  });

  it('is one-to-one: decoding the stored value gives the original', () => {
    fc.assert(fc.property(oddStrings, (value) => decode(encodeTagValue(value)) === value));
  });
});

describe('encodeFieldKey', () => {
  it('encodes as a tag value, writes "time" as \\u0074ime and has no key for the empty name', () => {
    assert.equal(encodeFieldKey('temp'), 'temp');
    assert.equal(encodeFieldKey('a\nb'), 'a\\u000ab');
    assert.equal(encodeFieldKey('time'), '\\u0074ime');
    assert.equal(encodeFieldKey('\\u0074ime'), '\\u005cu0074ime');
    assert.equal(encodeFieldKey(''), undefined);
  });

  it('is one-to-one on non-empty names', () => {
    const names = fc.oneof(oddStrings, fc.constant('time')).filter((name) => name !== '');
    fc.assert(fc.property(names, (name) => decode(encodeFieldKey(name) ?? '') === name));
  });
});
