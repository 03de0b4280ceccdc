import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { produceSimulation } from '../../../src/adapters/simulator/produce-simulation.ts';
import { createSimulator } from '../../../src/adapters/simulator/simulator.ts';
import { isTsadError } from '../../../src/errors.ts';
import { tempDir } from '../../harness/temp-dir.ts';

describe('produceSimulation without a reachable broker', () => {
  it('fails with TSAD_ERR_KAFKA and leaves an existing labels file as it was', async () => {
    const labelsFile = path.join(tempDir('tsad-produce-'), 'labels.jsonl');
    fs.writeFileSync(labelsFile, '{"sensor":"pump-1"}\n');
    await assert.rejects(
      produceSimulation({
        // Nothing listens on port 1: the connection is refused at once, and not retried.
        client: { brokers: ['127.0.0.1:1'], retry: { retries: 0 }, connectionTimeout: 1000 },
        topic: 'sensor-readings',
        simulator: createSimulator({ sensors: 1, points: 10 }),
        ratePerSecond: 0,
        labelsFile,
      }),
      (error) => isTsadError(error, 'TSAD_ERR_KAFKA'),
    );
    assert.equal(fs.readFileSync(labelsFile, 'utf8'), '{"sensor":"pump-1"}\n');
  });
});
