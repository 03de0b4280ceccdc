// Entry file of the training worker thread. Node does not apply the tsx
// loader of the main thread to a worker's entry module, so this plain-JS file
// registers tsx in the worker and then imports the TypeScript entry point.
import { workerData } from 'node:worker_threads';

if (workerData.entry.endsWith('.ts')) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import(workerData.entry);
