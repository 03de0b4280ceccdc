import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { createProgress } from '../../../src/cli/progress.ts';

function capture() {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk) => {
    text += chunk;
  });
  return { stream, text: () => text };
}

describe('createProgress', () => {
  it('prints plain lines at most once per interval and a final line when not on a terminal', () => {
    const { stream, text } = capture();
    let clock = 0;
    const progress = createProgress({
      total: 10,
      label: 'training',
      stream,
      isTTY: false,
      intervalMs: 1000,
      now: () => clock,
    });
    for (let i = 0; i < 10; i++) {
      clock += 300;
      progress.tick(1, { loss: 0.0123456 });
    }
    progress.stop();
    progress.stop();
    assert.deepEqual(text().trim().split('\n'), [
      'training: 4/10 (40%) loss=0.01235',
      'training: 8/10 (80%) loss=0.01235',
      'training: 10/10 (100%) loss=0.01235',
    ]);
  });

  it('counts without a total', () => {
    const { stream, text } = capture();
    const progress = createProgress({ label: 'sent', stream, isTTY: false });
    progress.update(42, { sensors: 3 });
    progress.stop();
    assert.equal(text(), 'sent: 42 sensors=3\n');
  });

  it('draws a bar on a terminal', () => {
    const { stream, text } = capture();
    const progress = createProgress({ total: 4, label: 'backtest', stream, isTTY: true });
    progress.tick(2);
    progress.stop();
    assert.match(text(), /backtest \[.*\] (50|100)% \| [24]\/4/);
  });
});
