import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ERROR_CODES, isTsadError, TsadError } from '../../../src/errors.ts';

function documentedCodes(): Map<string, string> {
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  const rows = new Map<string, string>();
  for (const match of doc.matchAll(/^\|\s*(TSAD_ERR_[A-Z_]+)\s*\|\s*(yes|no)\s*\|/gm)) {
    rows.set(match[1]!, match[2]!);
  }
  return rows;
}

test('docs/errors.md lists every error code with its retriable flag, and no others', () => {
  const documented = documentedCodes();
  const expected = new Map(
    Object.entries(ERROR_CODES).map(([code, { retriable }]) => [code, retriable ? 'yes' : 'no']),
  );
  assert.deepEqual([...documented.entries()].sort(), [...expected.entries()].sort());
});

test('a TsadError carries its code, default retriability, an override and the cause', () => {
  const cause = new Error('socket closed');
  const error = new TsadError('TSAD_ERR_KAFKA', 'produce failed', { cause });
  assert.equal(error.retriable, true);
  assert.equal(error.cause, cause);
  assert.ok(isTsadError(error, 'TSAD_ERR_KAFKA'));
  assert.ok(!isTsadError(error, 'TSAD_ERR_INFLUX'));
  assert.equal(
    new TsadError('TSAD_ERR_KAFKA', 'topic missing', { retriable: false }).retriable,
    false,
  );
  assert.ok(!isTsadError(new Error('plain')));
});
