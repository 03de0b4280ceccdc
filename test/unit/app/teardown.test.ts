import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTeardown } from '../../../src/app/teardown.ts';

describe('teardown', () => {
  it('runs steps last-in-first-out', async () => {
    const order: string[] = [];
    const teardown = createTeardown();
    teardown.push('metrics', () => void order.push('metrics'));
    teardown.push('consumer', async () => {
      await sleep(1);
      order.push('consumer');
    });
    const report = await teardown.run(1_000);
    assert.deepEqual(order, ['consumer', 'metrics']);
    assert.deepEqual(report.completed, ['consumer', 'metrics']);
  });

  it('keeps going after a failing step and reports it', async () => {
    const teardown = createTeardown();
    teardown.push('last', () => {});
    teardown.push('broken', () => {
      throw new Error('boom');
    });
    const report = await teardown.run(1_000);
    assert.deepEqual(report.failed, ['broken']);
    assert.deepEqual(report.completed, ['last']);
  });

  it('abandons the steps left when the budget runs out', async () => {
    const teardown = createTeardown();
    teardown.push('never reached', () => {});
    teardown.push('stuck', () => new Promise(() => {}));
    const started = Date.now();
    const report = await teardown.run(50);
    assert.ok(Date.now() - started < 1_000);
    assert.deepEqual(report.abandoned, ['stuck', 'never reached']);
  });

  it('shares one run between concurrent callers', async () => {
    let runs = 0;
    const teardown = createTeardown();
    teardown.push('once', () => void runs++);
    const [a, b] = await Promise.all([teardown.run(100), teardown.run(100)]);
    assert.equal(a, b);
    assert.equal(runs, 1);
  });
});
