import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../src/model/backend.ts';
import {
  readOnlyMappings,
  releaseLibraryPages,
  residentFileBytes,
} from '../../../src/model/library-pages.ts';

const LIB = '/srv/app/node_modules/@tensorflow/tfjs-node/deps/lib';
const MAPS = [
  `7f1a00000000-7f1a0e4c1000 r--p 00000000 fe:00 1001 ${LIB}/libtensorflow_cc.so.2`,
  `7f1a0e4c1000-7f1a22389000 r-xp 0e4c1000 fe:00 1001 ${LIB}/libtensorflow_cc.so.2`,
  `7f1a22389000-7f1a22a17000 r--p 23d88000 fe:00 1001 ${LIB}/libtensorflow_cc.so.2`,
  `7f1a22a17000-7f1a22bde000 rw-p 24416000 fe:00 1001 ${LIB}/libtensorflow_cc.so.2`,
  `7f1a30000000-7f1a315c0000 r-xp 00000000 fe:00 1002 ${LIB}/libtensorflow_framework.so.2`,
  `7f1a40000000-7f1a40010000 r-xp 00000000 fe:00 1003 /srv/app/node_modules/@tensorflow/tfjs-node/lib/napi-v8/tfjs_binding.node`,
  '7f1a50000000-7f1a50100000 r-xp 00000000 fe:00 1004 /usr/lib/x86_64-linux-gnu/libc.so.6',
  '7f1a60000000-7f1a60200000 rw-p 00000000 00:00 0 ',
  '7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]',
  `7f1a70000000-7f1a70001000 r--s 00000000 fe:00 1001 ${LIB}/libtensorflow_cc.so.2`,
].join('\n');

test('only the read-only private mappings of the two TensorFlow libraries are picked', () => {
  const mappings = readOnlyMappings(MAPS);
  assert.deepEqual(
    mappings.map((m) => [m.start.toString(16), m.end.toString(16), m.path.split('/').pop()]),
    [
      ['7f1a00000000', '7f1a0e4c1000', 'libtensorflow_cc.so.2'],
      ['7f1a0e4c1000', '7f1a22389000', 'libtensorflow_cc.so.2'],
      ['7f1a22389000', '7f1a22a17000', 'libtensorflow_cc.so.2'],
      ['7f1a30000000', '7f1a315c0000', 'libtensorflow_framework.so.2'],
    ],
  );
});

test('the loaded library’s pages leave the resident set, and TensorFlow still computes', async (t) => {
  const info = await initBackend({ prefer: 'tensorflow', warn: () => {} });
  if (info.backend !== 'tensorflow') return t.skip('native TensorFlow is not installed');
  const result = releaseLibraryPages();
  if (!result.released) {
    // CI builds the addon at install (scripts/build-page-out.mjs): there it must work.
    assert.ok(!process.env.CI, `not released in CI: ${result.reason}`);
    return t.skip(result.reason);
  }
  assert.equal(result.failures, 0);
  assert.ok(result.mappings >= 4, `${result.mappings} mappings`);
  // Pages another process maps too (another tsad, or a test of a clone whose
  // node_modules are hard links of these) stay resident: nothing to measure.
  const sharer = otherProcessMappingLibrary();
  if (sharer !== undefined) return t.skip(`process ${sharer} maps the same library file`);
  // Loading leaves a few hundred MB of libtensorflow resident (about 330 MB here).
  const dropped = result.residentFileBefore - result.residentFileAfter;
  assert.ok(dropped > 100e6, `RssFile ${result.residentFileBefore} → ${result.residentFileAfter}`);
  // The pages come back when used: the backend computes as before.
  const x = tf.tensor2d([
    [1, 2],
    [3, 4],
  ]);
  assert.deepEqual(Array.from(tf.matMul(x, x).dataSync()), [7, 10, 15, 22]);
  assert.ok(residentFileBytes() < result.residentFileBefore);
});

/** A process other than this one that maps this process's libtensorflow_cc file (same device and inode), if any. */
function otherProcessMappingLibrary(): number | undefined {
  const own = fs
    .readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .find((line) => line.endsWith('/libtensorflow_cc.so.2'));
  const fields = own?.split(/\s+/);
  if (!fields) return undefined;
  const key = ` ${fields[3]} ${fields[4]} `; // device and inode
  for (const entry of fs.readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${pid}/maps`, 'utf8').includes(key)) return pid;
    } catch {
      // Gone, or not ours to read.
    }
  }
  return undefined;
}
