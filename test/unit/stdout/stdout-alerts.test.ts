import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import {
  createStdoutAlertSink,
  formatAlertLine,
} from '../../../src/adapters/stdout/stdout-alerts.ts';
import type { AlertEvent } from '../../../src/detector/index.ts';

const firing: AlertEvent = {
  schemaVersion: 1,
  id: '0123456789abcdef0123456789abcdef',
  sensor: 'pump-7',
  state: 'firing',
  startedAt: '2026-01-01T00:00:31.000Z',
  endedAt: null,
  peakScore: 2.4,
  score: 2.4,
  calibratedScore: 0.97,
  threshold: 0.8,
  method: 'spot',
  modelVersion: 'm1',
  window: { start: '2026-01-01T00:00:00.000Z', end: '2026-01-01T00:00:31.000Z' },
  explanation: {
    channels: [
      { channel: 'vibration', error: 3, share: 0.75 },
      { channel: 'temp', error: 1, share: 0.25 },
    ],
    peakStep: {
      index: 31,
      timestamp: '2026-01-01T00:00:31.000Z',
      error: 5,
      observed: { temp: 1, vibration: 9 },
      reconstructed: null,
    },
  },
};

describe('stdout alert lines', () => {
  it('says when, which sensor, how far over the threshold and which channel', () => {
    assert.equal(
      formatAlertLine(firing),
      '2026-01-01T00:00:31.000Z FIRING   pump-7: score 2.400 > threshold 0.800 (3.0× threshold, mostly vibration (75%)) id=0123456789ab',
    );
  });

  it('says since when a resolved alert fired', () => {
    const line = formatAlertLine({
      ...firing,
      state: 'resolved',
      endedAt: '2026-01-01T00:01:00.000Z',
    });
    assert.match(
      line,
      /^2026-01-01T00:01:00.000Z RESOLVED pump-7: firing since 2026-01-01T00:00:31.000Z/,
    );
  });

  it('writes one line per event and resolves once the stream took them', async () => {
    const stream = new PassThrough();
    let text = '';
    stream.on('data', (chunk) => {
      text += String(chunk);
    });
    await createStdoutAlertSink(stream).send([firing, { ...firing, sensor: 'pump-8' }]);
    assert.equal(text.split('\n').filter(Boolean).length, 2);
  });
});
