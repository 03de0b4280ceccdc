/**
 * Speed of the stock tfjs LSTM autoencoder: training time per epoch and
 * scoring throughput for window 32, 1 channel, 32 units, on batches of 4096
 * windows. Prints one JSON object. Run: node --import tsx bench/model-basic.ts
 * [--epochs n] [--repeats n] [--backend tensorflow|wasm|cpu]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { type BackendName, initBackend } from '../src/model/backend.ts';
import { mulberry32, trainAutoencoder } from '../src/model/train.ts';
import { windowsFromSeries } from '../src/model/windows.ts';

const { values } = parseArgs({
  options: {
    epochs: { type: 'string', default: '2' },
    repeats: { type: 'string', default: '5' },
    backend: { type: 'string', default: 'tensorflow' },
    windows: { type: 'string', default: '4096' },
  },
});
const WINDOW = 32;
const BATCH = Number(values.windows);
const info = await initBackend({ prefer: values.backend as BackendName });

const random = mulberry32(1);
const rows = BATCH + WINDOW - 1;
const series = Float32Array.from(
  { length: rows },
  (_, t) => Math.sin((2 * Math.PI * t) / 24) + 0.05 * (random() - 0.5),
);
const windows = windowsFromSeries(series, 1, WINDOW);

const epochs = Number(values.epochs);
const started = performance.now();
const model = await trainAutoencoder(windows, {
  windowSize: WINDOW,
  hiddenUnits: [32],
  codeSize: 16,
  maxEpochs: epochs,
  patience: epochs,
  validationFraction: 0,
});
const trainMs = performance.now() - started;

await model.scoreData(windows.slice(0, 64)); // warm-up
const times: number[] = [];
for (let i = 0; i < Number(values.repeats); i++) {
  const t0 = performance.now();
  await model.scoreData(windows);
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)]!;
console.log(
  JSON.stringify(
    {
      bench: 'model-basic',
      backend: info.backend,
      tfjs: tf.version.tfjs,
      windowSize: WINDOW,
      channels: 1,
      hiddenUnits: [32],
      codeSize: 16,
      trainWindows: windows.length,
      trainBatchSize: model.config.batchSize,
      epochs: model.metadata.training.epochsRun,
      trainMsPerEpoch: Math.round(trainMs / model.metadata.training.epochsRun),
      scoreBatch: windows.length,
      scoreMsPerBatchMedian: Math.round(median),
      scoreWindowsPerSecond: Math.round((windows.length / median) * 1000),
      scoreMsAll: times.map((t) => Math.round(t)),
      loadAverage: (await import('node:os')).loadavg().map((l) => Math.round(l * 100) / 100),
    },
    null,
    2,
  ),
);
model.dispose();
