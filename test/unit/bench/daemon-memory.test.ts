import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type MemorySample, summariseMemory } from '../../../bench/e2e/daemon-memory.ts';

function sample(seconds: number, rssKb: number, windowsScored: number | null): MemorySample {
  return {
    seconds,
    rssKb,
    hwmKb: rssKb + 1000,
    rssAnonKb: rssKb - 300_000,
    heapUsedBytes: rssKb * 100,
    externalBytes: 0,
    windowsScored,
    trainings: null,
  };
}

test('the memory summary covers the samples from the third after the first scored window', () => {
  const samples = [
    sample(10, 600_000, null), // the cold start: metrics not yet served
    sample(20, 700_000, 0),
    sample(30, 900_000, 1_000), // first scored window
    sample(40, 1_500_000, 20_000), // still catching up
    sample(50, 1_300_000, 40_000),
    sample(60, 1_320_000, 61_000),
  ];
  const summary = summariseMemory(samples, 1_000);
  assert.equal(summary.settledSamples, 2);
  assert.deepEqual(summary.rssKb, { min: 1_300_000, max: 1_320_000 });
  assert.equal(summary.peakKb, 1_501_000);
  assert.deepEqual(summary.heapUsedBytes, { min: 130_000_000, max: 132_000_000 });
  assert.equal(summary.windowsPerSecond, 2_000); // (61,000 − 1,000) / (60 − 30)
  assert.equal(summary.windowsPerSensor, 61);
});

test('a run that never scored has no settled range', () => {
  const summary = summariseMemory([sample(10, 600_000, null), sample(20, 650_000, 0)], 10);
  assert.equal(summary.settledSamples, 0);
  assert.equal(summary.rssKb, null);
  assert.equal(summary.windowsPerSecond, null);
  assert.equal(summary.peakKb, 651_000);
});
