/**
 * SIGTERM in the middle of the stream: `tsad run` (a real child process, so
 * main.ts's signal trap is exercised) exits 0 within the shutdown budget; a
 * second run continues from the committed offsets; across both runs every
 * reading is covered by a scored window (read back from InfluxDB, where the
 * daemon writes every scored window).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Admin, Kafka } from 'kafkajs';
import { stringify } from 'yaml';
import { randomName, services, waitFor } from '../../harness/services.ts';
import { tempDir } from '../../harness/temp-dir.ts';
import {
  committedOffsets,
  createTopic,
  endOffsets,
  fleetMessages,
  INTERVAL_MS,
  kafkaClient,
  makeFleet,
  produce,
  T0,
  trainSmallModel,
  WINDOW,
} from './fixtures.ts';

const SENSORS = 30;
const READINGS = 3_000;
const BUDGET_MS = 10_000;

interface Run {
  child: ChildProcess;
  logFile: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startDaemon(configFile: string, logFile: string): Run {
  const out = fs.openSync(logFile, 'w');
  const child = spawn(process.execPath, ['bin/tsad.mjs', 'run', '--config', configFile], {
    stdio: ['ignore', 'ignore', out],
    env: { ...process.env, KAFKA_BROKERS: '', INFLUX_URL: '', TSAD_CONFIG: '' },
  });
  fs.closeSync(out);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, logFile, exited };
}

/** The pipeline stats the daemon logs when it stops. */
function stoppedStats(logFile: string): { messages: number } | undefined {
  for (const line of fs.readFileSync(logFile, 'utf8').split('\n')) {
    if (!line.includes('daemon stopped')) continue;
    return (JSON.parse(line) as { stats: { messages: number } }).stats;
  }
  return undefined;
}

async function influxQuery(db: string, q: string): Promise<Array<[number, ...unknown[]]>> {
  const url = `${services.influxUrl}/query?db=${encodeURIComponent(db)}&epoch=ms&q=${encodeURIComponent(q)}`;
  const body = (await (await fetch(url)).json()) as {
    results: Array<{ series?: Array<{ values: Array<[number, ...unknown[]]> }> }>;
  };
  return body.results[0]?.series?.[0]?.values ?? [];
}

describe('SIGTERM mid-stream, then restart', () => {
  const fleet = makeFleet(SENSORS, 0);
  const topic = randomName('readings');
  const groupId = randomName('tsad');
  const database = randomName('tsad').replace(/-/g, '_');
  const dir = tempDir('tsad-sigterm-');
  const configFile = path.join(dir, 'tsad.yaml');
  let kafka: Kafka;
  let admin: Admin;
  const runs: Run[] = [];

  before(async () => {
    const modelDir = await trainSmallModel();
    kafka = kafkaClient();
    admin = kafka.admin();
    await admin.connect();
    await createTopic(admin, topic, 4);
    await produce(kafka, topic, fleetMessages(fleet, 0, READINGS));
    fs.writeFileSync(
      configFile,
      stringify({
        kafka: {
          brokers: services.kafkaBrokers,
          inputTopic: topic,
          alertTopic: `${topic}.alerts`,
          groupId,
          fromBeginning: true,
          sessionTimeoutMs: 10_000,
          heartbeatIntervalMs: 1_000,
        },
        input: { maxLatenessMs: 2_000 },
        window: { size: WINDOW, stride: 1 },
        batching: { maxBatchSize: 1024, maxDelayMs: 20, highWaterMark: 20_000 },
        model: { path: modelDir },
        threshold: { method: 'spot', spot: { q: 1e-5, nInit: 400 } },
        alerts: { stdout: false },
        influx: {
          url: services.influxUrl,
          database,
          retentionDuration: 'INF',
          batchSize: 5_000,
          flushIntervalMs: 200,
          maxQueue: 500_000,
        },
        metrics: { enabled: false },
        log: { level: 'info', format: 'json' },
        shutdown: { timeoutMs: BUDGET_MS },
      }),
    );
  });

  after(async () => {
    for (const run of runs) if (run.child.exitCode === null) run.child.kill('SIGKILL');
    await admin?.disconnect();
  });

  it('exits 0 within the budget on SIGTERM and a restart finishes the stream from the committed offsets', async () => {
    const total = SENSORS * READINGS;
    const end = await endOffsets(admin, topic);
    const committedSum = async () =>
      [...(await committedOffsets(admin, groupId, topic)).values()].reduce(
        (a, b) => a + Math.max(0, b),
        0,
      );

    const first = startDaemon(configFile, path.join(dir, 'run-1.log'));
    runs.push(first);
    await waitFor(async () => ((await committedSum()) > total * 0.1 ? true : undefined), {
      what: 'the first run to commit 10% of the stream',
      timeoutMs: 120_000,
      intervalMs: 100,
    });
    const signalled = Date.now();
    first.child.kill('SIGTERM');
    const firstExit = await first.exited;
    const stopMs = Date.now() - signalled;
    const afterFirst = await committedSum();
    assert.deepEqual(
      firstExit,
      { code: 0, signal: null },
      fs.readFileSync(first.logFile, 'utf8').slice(-2_000),
    );
    assert.ok(stopMs < BUDGET_MS, `stopped in ${stopMs} ms`);
    assert.ok(afterFirst < total, 'the first run was stopped mid-stream');

    const second = startDaemon(configFile, path.join(dir, 'run-2.log'));
    runs.push(second);
    await waitFor(
      async () => {
        const committed = await committedOffsets(admin, groupId, topic);
        return [...end].every(([p, high]) => committed.get(p) === high) ? true : undefined;
      },
      { what: 'the second run to commit the whole stream', timeoutMs: 180_000, intervalMs: 500 },
    );
    second.child.kill('SIGTERM');
    assert.deepEqual(await second.exited, { code: 0, signal: null });

    const firstMessages = stoppedStats(first.logFile)?.messages ?? Number.NaN;
    const secondMessages = stoppedStats(second.logFile)?.messages ?? Number.NaN;
    // The second run starts at the committed offsets: it reads the rest, not the whole topic.
    assert.ok(secondMessages < total, `second run read ${secondMessages} of ${total}`);
    assert.ok(secondMessages >= total - afterFirst, 'the second run read everything not committed');
    assert.ok(firstMessages + secondMessages >= total);

    // Every reading lies in some scored window of one of the two runs.
    await waitFor(
      async () => {
        const rows = await influxQuery(database, 'SELECT count("score") FROM "tsad_window"');
        // Each sensor warms up twice (start and restart): at least that many distinct window ends.
        return Number(rows[0]?.[1] ?? 0) >= SENSORS * (READINGS - 2 * WINDOW) ? true : undefined;
      },
      { what: 'scored windows in InfluxDB', timeoutMs: 30_000 },
    );
    let uncovered = 0;
    for (const sensor of fleet.sensors) {
      const rows = await influxQuery(
        database,
        `SELECT "score" FROM "tsad_window" WHERE "sensor" = '${sensor}'`,
      );
      const covered = new Uint8Array(READINGS);
      for (const [time] of rows) {
        const endIndex = (time - T0) / INTERVAL_MS;
        for (let i = Math.max(0, endIndex - WINDOW + 1); i <= endIndex; i++) covered[i] = 1;
      }
      uncovered += covered.filter((c) => c === 0).length;
    }
    assert.equal(uncovered, 0, `${uncovered} readings not covered by any scored window`);
  });
});
