import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { writeOutputFile } from '../../../src/cli/write-output-file.ts';
import { isTsadError } from '../../../src/errors.ts';
import { tempDir } from '../../harness/temp-dir.ts';

describe('writeOutputFile', () => {
  test('creates the missing parent folders', () => {
    const dir = tempDir('tsad-output-');
    const file = path.join(dir, 'a', 'b', 'out.csv');
    writeOutputFile(file, 'x\n');
    assert.equal(fs.readFileSync(file, 'utf8'), 'x\n');
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['out.csv']);
  });

  test('writes bytes as they are', () => {
    const file = path.join(tempDir('tsad-output-'), 'out.bin');
    writeOutputFile(file, Uint8Array.of(0x89, 0x50, 0x4e, 0x47));
    assert.deepEqual([...fs.readFileSync(file)], [0x89, 0x50, 0x4e, 0x47]);
  });

  test('a path part that is a file is TSAD_ERR_OUTPUT_WRITE naming the path and that part', () => {
    const dir = tempDir('tsad-output-');
    const plain = path.join(dir, 'plain');
    fs.writeFileSync(plain, 'kept\n');
    for (const [file, reason] of [
      [path.join(plain, 'out.csv'), `EEXIST: file already exists, mkdir '${plain}'`],
      [
        path.join(plain, 'deeper', 'out.csv'),
        `ENOTDIR: not a directory, mkdir '${path.join(plain, 'deeper')}'`,
      ],
    ] as const) {
      assert.throws(
        () => writeOutputFile(file, 'x\n'),
        (error) =>
          isTsadError(error, 'TSAD_ERR_OUTPUT_WRITE') &&
          error.message === `cannot write ${file}: ${reason}`,
      );
    }
    assert.equal(fs.readFileSync(plain, 'utf8'), 'kept\n');
  });

  test('a folder in the way of the file is TSAD_ERR_OUTPUT_WRITE and leaves no temporary file', () => {
    const dir = tempDir('tsad-output-');
    const file = path.join(dir, 'out.csv');
    fs.mkdirSync(file);
    assert.throws(
      () => writeOutputFile(file, 'x\n'),
      (error) =>
        isTsadError(error, 'TSAD_ERR_OUTPUT_WRITE') &&
        error.message.startsWith(`cannot write ${file}: EISDIR`) &&
        !error.message.includes('.tmp-'),
    );
    assert.deepEqual(fs.readdirSync(dir), ['out.csv']);
  });

  test('a read-only folder is TSAD_ERR_OUTPUT_WRITE and keeps the previous file', {
    skip: process.getuid?.() === 0 ? 'root writes into read-only folders' : false,
  }, () => {
    const dir = tempDir('tsad-output-');
    const file = path.join(dir, 'out.csv');
    fs.writeFileSync(file, 'previous\n');
    fs.chmodSync(dir, 0o555);
    try {
      assert.throws(
        () => writeOutputFile(file, 'x\n'),
        (error) =>
          isTsadError(error, 'TSAD_ERR_OUTPUT_WRITE') &&
          error.message === `cannot write ${file}: EACCES: permission denied`,
      );
    } finally {
      fs.chmodSync(dir, 0o755);
    }
    assert.equal(fs.readFileSync(file, 'utf8'), 'previous\n');
  });
});
