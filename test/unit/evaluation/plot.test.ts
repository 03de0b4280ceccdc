import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { writePlotPng } from '../../../src/cli/plot.ts';
import { tempDir } from '../../harness/temp-dir.ts';

const PLOT = fileURLToPath(new URL('../../../src/cli/plot.ts', import.meta.url));

function pixel(png: PNG, x: number, y: number): [number, number, number] {
  const i = (y * png.width + x) * 4;
  return [png.data[i] as number, png.data[i + 1] as number, png.data[i + 2] as number];
}

test('writes a valid PNG of the requested size with windows shaded and detections marked', () => {
  const dir = tempDir('tsad-plot-');
  const file = path.join(dir, 'nested', 'plot.png');
  const n = 500;
  const t0 = Date.UTC(2020, 0, 1);
  const timestamps = Array.from({ length: n }, (_, i) => t0 + i * 60_000);
  const values = timestamps.map((_, i) => Math.sin(i / 10) + (i === 300 ? 5 : 0));
  const scores = timestamps.map((_, i) => (i === 300 ? 0.9 : 0.1));
  writePlotPng(file, {
    title: 'demo plot',
    timestamps,
    series: [
      { name: 'value', values, color: '#1f77b4' },
      { name: 'score', values: scores, color: '#2ca02c' },
    ],
    threshold: 0.5,
    windows: [[t0 + 100 * 60_000, t0 + 200 * 60_000]],
    detections: [300],
    width: 800,
    height: 400,
  });
  const png = PNG.sync.read(fs.readFileSync(file));
  assert.equal(png.width, 800);
  assert.equal(png.height, 400);

  // x of a timestamp: left margin 70, right margin 20.
  const xOf = (row: number) => Math.round(70 + (row / (n - 1)) * (800 - 20 - 70));
  const column = (x: number) => Array.from({ length: 400 }, (_, y) => pixel(png, x, y).join(','));
  assert.ok(column(xOf(150)).includes('255,214,214'), 'window shading inside the window');
  assert.ok(!column(xOf(250)).includes('255,214,214'), 'no shading outside the window');
  assert.ok(column(xOf(300)).includes('214,39,40'), 'detection marker at the detection');
  assert.ok(column(xOf(50)).includes('31,119,180'), 'value line drawn');
  const dashed = Array.from({ length: 12 }, (_, k) => column(xOf(50) + k)).flat();
  assert.ok(dashed.includes('255,127,14'), 'threshold line drawn');
});

test('a PNG write that fails part way leaves the previous plot whole and names the file', () => {
  const dir = tempDir('tsad-plot-');
  const file = path.join(dir, 'plot.png');
  fs.writeFileSync(file, 'previous plot\n');
  // A 1400 x 520 plot of noise compresses to far more than a 4-block file size limit.
  const script = `
    import { writePlotPng } from ${JSON.stringify(PLOT)};
    const timestamps = Array.from({ length: 5000 }, (_, i) => i * 60_000);
    const values = timestamps.map((_, i) => Math.sin(i * 12.9898) * 43758.5453 % 1);
    try {
      writePlotPng(${JSON.stringify(file)}, {
        title: 'noise', timestamps, series: [{ name: 'value', values, color: '#1f77b4' }],
        windows: [], detections: [],
      });
    } catch (error) { console.log(error.code, error.message); }`;
  const child = spawnSync(
    'sh',
    ['-c', 'ulimit -f 4 && exec "$@"', 'sh', process.execPath, '--import', 'tsx'],
    { input: script, encoding: 'utf8' },
  );
  assert.equal(child.status, 0, child.stderr);
  assert.equal(
    child.stdout.trim(),
    `TSAD_ERR_OUTPUT_WRITE cannot write ${file}: EFBIG: file too large`,
  );
  assert.equal(fs.readFileSync(file, 'utf8'), 'previous plot\n');
  assert.deepEqual(fs.readdirSync(dir), ['plot.png']);
});
