import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createEmbeddedSource } from '../../../src/app/embedded-source.ts';
import { loadConfig } from '../../../src/config/load-config.ts';

function simulatorSection(env: Record<string, string>) {
  return loadConfig({ env, flags: {} }).simulator;
}

describe('createEmbeddedSource', () => {
  it('spaces each sensor sensors / rate seconds apart when paced', () => {
    const section = simulatorSection({
      TSAD_SIMULATOR_SENSORS: '8',
      TSAD_SIMULATOR_RATE_PER_SECOND: '4',
    });
    const source = createEmbeddedSource({ simulator: section, backlogPerSensor: 0 });
    assert.equal(source.simulator.intervalMs, 2000);
  });

  it('accepts the unpaced rate 0 and stamps readings 1000 ms apart per sensor', () => {
    const section = simulatorSection({
      TSAD_SIMULATOR_SENSORS: '100000',
      TSAD_SIMULATOR_RATE_PER_SECOND: '0',
    });
    const source = createEmbeddedSource({ simulator: section, backlogPerSensor: 10 });
    assert.equal(source.simulator.intervalMs, 1000);
    const first = source.simulator.next();
    assert.ok(first !== undefined && Number.isFinite(first.ts));
  });
});
