import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { applyRuntimeFlags, runtimeFlagsOf } from '../../../src/app/runtime-flags.ts';
import { loadConfig } from '../../../src/config/load-config.ts';

const LARGE_FLEET = fileURLToPath(
  new URL('../../../deploy/config/large-fleet.yaml', import.meta.url),
);

test('the defaults set no V8 flag', () => {
  const config = loadConfig({ env: {} });
  assert.deepEqual(runtimeFlagsOf(config.runtime), []);
  const set: string[] = [];
  assert.deepEqual(
    applyRuntimeFlags(config.runtime, (flag) => set.push(flag)),
    [],
  );
  assert.deepEqual(set, []);
});

test('runtime.optimizeForSize (the large-fleet file, or its environment variable) sets --optimize-for-size', () => {
  for (const config of [
    loadConfig({ configFile: LARGE_FLEET, env: {} }),
    loadConfig({ env: { TSAD_RUNTIME_OPTIMIZE_FOR_SIZE: 'true' } }),
  ]) {
    const set: string[] = [];
    assert.deepEqual(
      applyRuntimeFlags(config.runtime, (flag) => set.push(flag)),
      ['--optimize-for-size'],
    );
    assert.deepEqual(set, ['--optimize-for-size']);
  }
});

test('every flag the runtime settings can ask for is one this node knows', () => {
  // v8.setFlagsFromString only prints a warning for a flag V8 does not know;
  // on the command line node refuses it, so a misspelt flag fails here.
  const flags = runtimeFlagsOf({ optimizeForSize: true });
  const run = spawnSync(process.execPath, [...flags, '-e', '0'], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stderr, '');
});
