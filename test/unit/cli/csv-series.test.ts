import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { readCsvSeries } from '../../../src/cli/csv-series.ts';
import { tempDir } from '../../harness/temp-dir.ts';

const ROWS = ['timestamp,a,b', '1000,1,2', '2000,3,4'];

async function read(text: string) {
  const file = path.join(tempDir('tsad-csv-'), 'series.csv');
  fs.writeFileSync(file, text);
  const series = await readCsvSeries(file);
  return {
    channels: series.channels,
    timestamps: [...series.timestamps],
    values: [...series.values],
  };
}

describe('readCsvSeries', () => {
  const expected = { channels: ['a', 'b'], timestamps: [1000, 2000], values: [1, 2, 3, 4] };

  test('reads LF, CRLF and lone-CR line ends alike', async () => {
    for (const end of ['\n', '\r\n', '\r']) {
      assert.deepEqual(await read(`${ROWS.join(end)}${end}`), expected, JSON.stringify(end));
    }
  });

  test('reads a UTF-8 BOM, quoted cells and trailing empty lines', async () => {
    assert.deepEqual(await read(`\uFEFF${ROWS.join('\n')}\n`), expected);
    assert.deepEqual(await read('"timestamp","a",b\n"1000","1",2\n2000,"3","4"\n'), expected);
    assert.deepEqual(await read(`${ROWS.join('\n')}\n\n\n`), expected);
  });
});
