import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createSimulatorSource,
  pacedReadings,
  simulatorOptionsFromConfig,
} from '../../../src/adapters/simulator/paced-readings.ts';
import { createSimulator } from '../../../src/adapters/simulator/simulator.ts';
import { loadConfig } from '../../../src/config/load-config.ts';

describe('pacedReadings', () => {
  it('spaces readings at the requested rate', async () => {
    const simulator = createSimulator({ sensors: 2, points: 50 });
    const started = performance.now();
    let count = 0;
    for await (const _ of pacedReadings(simulator, { ratePerSecond: 500 })) count++;
    const elapsed = performance.now() - started;
    assert.equal(count, 100);
    // 100 readings at 500/s: the last is due 198 ms after the first.
    assert.ok(elapsed >= 190, `took ${elapsed} ms`);
  });

  it('yields everything at once with rate 0 (as fast as possible)', async () => {
    const simulator = createSimulator({ sensors: 3, points: 2000 });
    let count = 0;
    for await (const _ of pacedReadings(simulator, { ratePerSecond: 0 })) count++;
    assert.equal(count, 6000);
  });

  it('ends without an error when the signal aborts, even while waiting', async () => {
    const controller = new AbortController();
    const simulator = createSimulator({ sensors: 1 });
    let count = 0;
    setTimeout(() => controller.abort(), 100);
    for await (const _ of pacedReadings(simulator, {
      ratePerSecond: 20,
      signal: controller.signal,
    })) {
      count++;
    }
    assert.ok(count >= 1 && count <= 4, `${count} readings before the abort`);
  });
});

describe('createSimulatorSource', () => {
  it('stamps readings with the wall clock at the configured rate', async () => {
    const config = loadConfig({
      env: {},
      flags: { simulator: { sensors: 4, ratePerSecond: 400 } },
    });
    const options = simulatorOptionsFromConfig(config.simulator, 1_000);
    assert.equal(options.intervalMs, 10, '4 sensors at 400/s: each every 10 ms');
    const controller = new AbortController();
    const { readings, simulator } = createSimulatorSource(config.simulator, {
      signal: controller.signal,
    });
    assert.deepEqual(simulator.sensors.length, 4);
    const seen = [];
    for await (const reading of readings) {
      seen.push({ ts: reading.ts, at: Date.now() });
      if (seen.length === 40) controller.abort();
    }
    const lateness = seen.map((s) => s.at - s.ts);
    assert.ok(
      lateness.every((l) => l > -20 && l < 200),
      `wall clock vs ts: ${lateness.join(',')}`,
    );
  });
});
