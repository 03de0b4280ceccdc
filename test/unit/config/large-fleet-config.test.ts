import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { thresholdOptions } from '../../../src/app/daemon.ts';
import { loadConfig } from '../../../src/config/load-config.ts';
import { mulberry32 } from '../../../src/detector/seeded-random.ts';
import {
  createThreshold,
  resolveThresholdConfig,
} from '../../../src/detector/thresholds/create-threshold.ts';

const FILE = fileURLToPath(new URL('../../../deploy/config/large-fleet.yaml', import.meta.url));

test('deploy/config/large-fleet.yaml is a valid config with the settings docs/operations.md gives', () => {
  const config = loadConfig({ configFile: FILE, env: {} });
  assert.equal(config.input.maxLatenessMs, 0);
  assert.equal(config.threshold.method, 'spot');
  assert.equal(config.threshold.spot.nInit, 1000);
  assert.equal(config.threshold.spot.maxPeaks, 100);
  assert.equal(config.runtime.optimizeForSize, true);
  // Everything else keeps its default.
  const defaults = loadConfig({ env: {} });
  assert.deepEqual(config.window, defaults.window);
  assert.deepEqual(config.model, defaults.model);
});

test('with the large-fleet settings a sensor’s SPOT holds 416 bytes warming up and 800 after', () => {
  const config = loadConfig({ configFile: FILE, env: {} });
  const spot = createThreshold(resolveThresholdConfig(thresholdOptions(config)));
  // Float32 scores (as the model's are), about 2 % of them peaks.
  const random = mulberry32(7);
  const next = () => Math.fround(random());
  let largest = 0;
  for (let i = 0; i < 999; i++) {
    spot.update(next());
    largest = Math.max(largest, spot.memoryBytes());
  }
  // The warm-up summary: 10 marker doubles, the 21 largest scores and their arrival indices.
  assert.equal(largest, 8 * (10 + 2 * 21));
  for (let i = 0; i < 20_000; i++) spot.update(next());
  assert.ok(spot.ready);
  assert.equal(spot.memoryBytes(), 800);
});

test('npm run start:large-fleet runs the daemon with that file and capped arenas', () => {
  const pkg = JSON.parse(
    fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
  );
  const script: string = pkg.scripts['start:large-fleet'];
  assert.match(script, /MALLOC_ARENA_MAX=2/);
  // V8 is tuned for size by the file (runtime.optimizeForSize), not by a node flag.
  assert.doesNotMatch(script, /--optimize-for-size/);
  assert.match(script, /run --config deploy\/config\/large-fleet\.yaml/);
});
