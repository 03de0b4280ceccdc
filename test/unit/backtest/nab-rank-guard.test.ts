import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  DEFAULT_NAB_CONFIG,
  readBacktestConfig,
} from '../../../src/cli/backtest/backtest-config.ts';
import { rankCalibrate } from '../../../src/cli/backtest/nab.ts';
import { tempDir } from '../../harness/temp-dir.ts';
import { seededRandom } from '../detector/noise.ts';

test('rankCalibrate with a guard leaves the rows just before a row out of its past', () => {
  const out = rankCalibrate([1, 2, 3, 4], 0, 1);
  // Row 1's past is empty (row 0 is in its guard), row 3's is rows 0 and 1.
  const expected = [0, 0, Math.log10(2) / 4, Math.log10(3) / 4];
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(out[i]! - expected[i]!) < 1e-12, `row ${i}`);
});

test('rankCalibrate without a guard ranks each row among all earlier rows', () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.double({ min: 0, max: 100, noNaN: true }), fc.constant(Number.NaN)), {
        maxLength: 60,
      }),
      fc.constantFrom(0, 0.2),
      (raw, margin) => {
        const out = rankCalibrate(raw, margin, 0);
        for (let i = 0; i < raw.length; i++) {
          const x = raw[i]!;
          if (Number.isNaN(x)) {
            assert.equal(out[i], 0);
            continue;
          }
          const past = raw.slice(0, i).filter((y) => !Number.isNaN(y));
          const ge = past.filter((y) => y >= x * (1 - margin)).length;
          const score = Math.min(1, Math.max(0, -Math.log10((ge + 1) / (past.length + 1)) / 4));
          assert.ok(Math.abs(out[i]! - score) < 1e-12, `row ${i}`);
        }
      },
    ),
  );
});

test('rankCalibrate with a guard finds a slow rise that its own first rows hide behind the margin', () => {
  const random = seededRandom(7);
  const raw = Array.from({ length: 3200 }, () => 1 + 0.1 * random());
  // 1 % more each row: within the margin (20 %) of the last 22 rows, 36 % above the row 31 back.
  for (let k = 0; k < 200; k++) raw[3000 + k] = 1.1 * 1.01 ** k;
  const peak = (xs: Float64Array) => Math.max(...xs.subarray(3000, 3200));
  const guarded = rankCalibrate(raw, 0.2, 31);
  const plain = rankCalibrate(raw, 0.2, 0);
  assert.ok(peak(guarded) > 0.8, `with the guard ${peak(guarded)}`);
  assert.ok(peak(plain) < 0.6, `without it ${peak(plain)}`);
  // Before the rise the guard changes little: the past is only 31 rows shorter.
  const before = (xs: Float64Array) => Math.max(...xs.subarray(1000, 3000));
  assert.ok(Math.abs(before(guarded) - before(plain)) < 0.05);
});

test('rankCalibrate with a guard stays causal', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 299 }),
      fc.integer({ min: 0, max: 40 }),
      fc.integer({ min: 1, max: 1000 }),
      (k, guard, seed) => {
        const random = seededRandom(seed);
        const raw = Array.from({ length: 300 }, () => random());
        const changed = raw.map((x, i) => (i >= k ? x * 7 : x));
        const a = rankCalibrate(raw, 0.2, guard);
        const b = rankCalibrate(changed, 0.2, guard);
        assert.deepEqual(b.subarray(0, k), a.subarray(0, k));
      },
    ),
    { numRuns: 50 },
  );
});

test('a backtest config file that changes the NAB window moves the guard band with it', () => {
  const dir = tempDir('tsad-guard-');
  try {
    const windowOnly = path.join(dir, 'window.yaml');
    fs.writeFileSync(windowOnly, 'nab:\n  model:\n    windowSize: 16\n');
    assert.equal(readBacktestConfig(windowOnly).nab.rankGuard, 15);
    const both = path.join(dir, 'both.yaml');
    fs.writeFileSync(both, 'nab:\n  model:\n    windowSize: 16\n  rankGuard: 4\n');
    assert.equal(readBacktestConfig(both).nab.rankGuard, 4);
    assert.equal(readBacktestConfig(undefined).nab.rankGuard, DEFAULT_NAB_CONFIG.rankGuard);
    assert.equal(DEFAULT_NAB_CONFIG.rankGuard, DEFAULT_NAB_CONFIG.model.windowSize - 1);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a backtest config file with impossible NAB rank settings is refused, naming every one', () => {
  const dir = tempDir('tsad-guard-');
  try {
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(
      file,
      'nab:\n  rankGuard: -5\n  rankMargin: 1\n  quiet: { fraction: 0.5, margin: 1.2 }\n',
    );
    assert.throws(
      () => readBacktestConfig(file),
      (error: Error) =>
        ['nab.rankGuard', 'nab.rankMargin', 'nab.quiet.margin'].every((key) =>
          error.message.includes(key),
        ) && !error.message.includes('quiet.fraction'),
    );
    fs.writeFileSync(file, 'nab:\n  rankGuard: 2.5\n');
    assert.throws(() => readBacktestConfig(file), /nab\.rankGuard = 2\.5 .*: expected int/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
