import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  type AlertPolicy,
  createAlertLifecycle,
  type LifecycleTransition,
} from '../../../src/detector/alert-lifecycle.ts';

const policy = (overrides: Partial<AlertPolicy> = {}): AlertPolicy => ({
  confirmK: 2,
  confirmN: 3,
  resolveAfter: 2,
  hysteresis: 0.5,
  minFiringMs: 0,
  cooldownMs: 0,
  ...overrides,
});

/** Runs a pattern: 'A' anomalous, 'n' normal above the lower level, '.' below it; one window per second. */
function run(p: AlertPolicy, pattern: string) {
  const lifecycle = createAlertLifecycle(p);
  const states: string[] = [];
  const transitions: Array<LifecycleTransition & { at: number }> = [];
  [...pattern].forEach((ch, i) => {
    const ts = (i + 1) * 1000;
    const t = lifecycle.step({ ts, anomalous: ch === 'A', belowLower: ch === '.' });
    if (t) transitions.push({ ...t, at: ts });
    states.push(lifecycle.state[0]!);
  });
  return { states: states.join(''), transitions };
}

test('k of n anomalous windows fire; r windows below the lower level resolve', () => {
  const { states, transitions } = run(policy(), '.A.A..n.AA.');
  // n=normal p=pending f=firing r=resolved
  assert.equal(states, 'nppffrnnpff');
  assert.deepEqual(
    transitions.map((t) => [t.kind, t.at]),
    [
      ['firing', 4000],
      ['resolved', 6000],
      ['firing', 10_000],
    ],
  );
});

test('a window above the lower level breaks the run of quiet windows (hysteresis)', () => {
  const { transitions } = run(policy(), 'AA.n.n.n..');
  assert.deepEqual(
    transitions.map((t) => [t.kind, t.at]),
    [
      ['firing', 2000],
      ['resolved', 10_000],
    ],
  );
});

test('an alert fires for at least minFiringMs before it resolves', () => {
  const { transitions } = run(policy({ minFiringMs: 5000 }), 'AA........');
  assert.deepEqual(
    transitions.map((t) => [t.kind, t.at]),
    [
      ['firing', 2000],
      ['resolved', 7000],
    ],
  );
});

test('no new firing within cooldownMs after a resolve, even if k of n hold', () => {
  const { states, transitions } = run(policy({ cooldownMs: 4000 }), 'AA..AAAAAA');
  assert.deepEqual(
    transitions.map((t) => [t.kind, t.at]),
    [
      ['firing', 2000],
      ['resolved', 4000],
      ['firing', 8000],
    ],
  );
  assert.equal(states, 'pffrrrrfff');
});

test('for arbitrary windows: firing and resolved alternate, one firing per episode, cooldown and minimum duration hold', () => {
  fc.assert(
    fc.property(
      fc.record({
        confirmN: fc.integer({ min: 1, max: 6 }),
        kFraction: fc.double({ min: 0, max: 1, noNaN: true }),
        resolveAfter: fc.integer({ min: 1, max: 5 }),
        minFiringMs: fc.integer({ min: 0, max: 10_000 }),
        cooldownMs: fc.integer({ min: 0, max: 20_000 }),
      }),
      fc.array(
        fc.record({
          dt: fc.integer({ min: 1, max: 3000 }),
          anomalous: fc.boolean(),
          belowLower: fc.boolean(),
        }),
        { maxLength: 300 },
      ),
      (raw, windows) => {
        const p = policy({
          confirmN: raw.confirmN,
          confirmK: 1 + Math.floor(raw.kFraction * (raw.confirmN - 1)),
          resolveAfter: raw.resolveAfter,
          minFiringMs: raw.minFiringMs,
          cooldownMs: raw.cooldownMs,
        });
        const lifecycle = createAlertLifecycle(p);
        let ts = 0;
        let firingSince: number | null = null;
        let lastResolved: number | null = null;
        const recent: boolean[] = [];
        for (const w of windows) {
          ts += w.dt;
          recent.push(w.anomalous);
          if (recent.length > p.confirmN) recent.shift();
          const t = lifecycle.step({ ts, anomalous: w.anomalous, belowLower: w.belowLower });
          if (t?.kind === 'firing') {
            assert.equal(firingSince, null, 'two firings for one episode');
            if (lastResolved !== null) assert.ok(ts - lastResolved >= p.cooldownMs, 'cooldown');
            assert.ok(recent.filter(Boolean).length >= p.confirmK, 'fired without k of n');
            assert.equal(t.startedAt, ts);
            firingSince = ts;
          } else if (t?.kind === 'resolved') {
            assert.notEqual(firingSince, null, 'resolved before firing');
            assert.equal(t.startedAt, firingSince);
            assert.ok(t.endedAt - t.startedAt >= p.minFiringMs, 'minimum firing duration');
            firingSince = null;
            lastResolved = ts;
            recent.length = 0;
          }
          assert.equal(lifecycle.state === 'firing', firingSince !== null);
        }
      },
    ),
    { numRuns: 300 },
  );
});
