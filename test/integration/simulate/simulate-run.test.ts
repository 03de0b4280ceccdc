/**
 * The two halves of issue 7 together: `tsad simulate` produces labelled
 * anomalies into the real broker, `tsad run` (the real executable) consumes
 * them with a cold-start model, and its alerts are scored against the labels.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import type { SimulationSummary } from '../../../src/adapters/simulator/produce-simulation.ts';
import type { AnomalyLabel } from '../../../src/adapters/simulator/simulator.ts';
import { runCli } from '../../../src/cli/cli.ts';
import { randomName, services, waitFor } from '../../harness/services.ts';
import { tempDir } from '../../harness/temp-dir.ts';

const BIN = new URL('../../../bin/tsad.mjs', import.meta.url).pathname;
const SENSORS = 3;
const POINTS = 4000;
const ANOMALIES = 9;
/** Readings per second: 3 sensors × 4,000 readings take 40 s. */
const RATE = 300;
const WINDOW = 32;

interface Alert {
  sensor: string;
  state: 'firing' | 'resolved';
  startedAt: string;
  window: { start: string; end: string };
}

let kafka: Kafka;
let admin: Admin;
const dir = tempDir('tsad-simulate-run-');

before(async () => {
  kafka = new Kafka({
    clientId: 'tsad-simulate-run-test',
    brokers: services.kafkaBrokers,
    logLevel: logLevel.WARN,
  });
  admin = kafka.admin();
  await admin.connect();
});

after(async () => {
  await admin?.disconnect();
});

describe('tsad simulate → tsad run on the real broker', () => {
  const topic = randomName('sim-run-readings');
  const alertTopic = `${topic}.alerts`;
  const groupId = randomName('sim-run-group');
  let summary: SimulationSummary;
  const alerts: Alert[] = [];
  let daemonLog = '';

  before(async () => {
    await admin.createTopics({
      topics: [topic, alertTopic, `${topic}.dlq`].map((t) => ({ topic: t, numPartitions: 3 })),
      waitForLeaders: true,
    });
    // The model and the thresholds learn from the clean start (anomalies begin after 1,000
    // readings per sensor): the cold-start model (default size) trains on about the first 350
    // windows of each sensor, and each threshold calibrates on the next 600 scores.
    const configFile = path.join(dir, 'tsad.yaml');
    fs.writeFileSync(
      configFile,
      [
        'kafka:',
        '  fromBeginning: true',
        'model:',
        '  warmupWindows: 1050',
        'threshold:',
        '  method: spot',
        '  spot:',
        '    nInit: 600',
        'alerts:',
        // Readings are 10 ms apart here: a minute of cooldown would span the whole run.
        '  cooldownMs: 0',
        // An injected anomaly stays in the 32 windows (stride 1) that hold it, while the
        // simulated machine's own excursions, which the model has seen too little of to
        // reconstruct well, last a few: 12 of the last 16 windows tell them apart.
        '  confirmK: 12',
        '  confirmN: 16',
        'retraining:',
        '  enabled: false',
        'metrics:',
        '  port: 0',
        'log:',
        '  level: info',
        '  format: json',
      ].join('\n'),
    );
    const child = spawn(
      process.execPath,
      [
        BIN,
        'run',
        '--config',
        configFile,
        '--brokers',
        services.kafkaBrokers.join(','),
        '--topic',
        topic,
        '--alert-topic',
        alertTopic,
        '--group',
        groupId,
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, KAFKA_BROKERS: '', INFLUX_URL: '', PROMETHEUS_URL: '' },
      },
    );
    child.stdout.on('data', (c) => {
      daemonLog += c;
    });
    child.stderr.on('data', (c) => {
      daemonLog += c;
    });
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => resolve(code)),
    );
    try {
      // A live stream, as in production: the daemon is up before the readings arrive.
      await waitFor(() => (daemonLog.includes('daemon started') ? true : undefined), {
        what: 'tsad run to start',
        timeoutMs: 60_000,
      });
      const stdout = new PassThrough();
      let out = '';
      stdout.on('data', (c) => {
        out += c;
      });
      const code = await runCli(
        [
          'simulate',
          '--brokers',
          services.kafkaBrokers.join(','),
          '--topic',
          topic,
          '--log-level',
          'warn',
          '--sensors',
          String(SENSORS),
          '--points',
          String(POINTS),
          '--anomalies',
          String(ANOMALIES),
          '--clean-start',
          '1000',
          '--seed',
          '21',
          '--rate',
          String(RATE),
        ],
        { stdout, stderr: new PassThrough() },
      );
      assert.equal(code, 0);
      summary = JSON.parse(out) as SimulationSummary;
      assert.equal(summary.readings, SENSORS * POINTS);

      // Done when the group has committed every offset of the input topic.
      const ends = await admin.fetchTopicOffsets(topic);
      const total = ends.reduce((sum, p) => sum + Number(p.high), 0);
      await waitFor(
        async () => {
          const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
          const done = (committed?.partitions ?? []).reduce(
            (sum, p) => sum + Math.max(0, Number(p.offset)),
            0,
          );
          return done >= total ? true : undefined;
        },
        {
          what: `group ${groupId} to commit ${total} offsets`,
          timeoutMs: 240_000,
          intervalMs: 1000,
        },
      );
    } finally {
      child.kill('SIGTERM');
      const code = await exited;
      assert.equal(code, 0, `tsad run exit code; log:\n${daemonLog.slice(-3000)}`);
    }
    const consumer = kafka.consumer({ groupId: randomName('sim-run-reader') });
    await consumer.connect();
    const ends = await admin.fetchTopicOffsets(alertTopic);
    const expected = ends.reduce((sum, p) => sum + Number(p.high), 0);
    try {
      await consumer.subscribe({ topic: alertTopic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          alerts.push(JSON.parse(message.value?.toString() ?? '{}') as Alert);
        },
      });
      await waitFor(() => (alerts.length >= expected ? true : undefined), {
        what: `${expected} alerts`,
        timeoutMs: 30_000,
      });
    } finally {
      await consumer.disconnect();
    }
  });

  it('fires alerts for most injected anomalies, and most alerts are at an injected anomaly', () => {
    const labels = summary.anomalies.labels;
    const firing = alerts.filter((a) => a.state === 'firing');
    // A window that overlaps the anomaly may fire up to WINDOW readings after its last affected reading.
    const slackMs = (WINDOW + 5) * summary.intervalMs;
    const matches = (alert: Alert, label: AnomalyLabel) => {
      const at = Date.parse(alert.window.end);
      return alert.sensor === label.sensor && at >= label.startTs && at <= label.endTs + slackMs;
    };
    const found = labels.filter((label) => firing.some((alert) => matches(alert, label)));
    const justified = firing.filter((alert) => labels.some((label) => matches(alert, label)));
    const recall = found.length / labels.length;
    const precision = firing.length === 0 ? 0 : justified.length / firing.length;
    const missed = labels
      .filter((l) => !found.includes(l))
      .map(
        (l) =>
          `${l.sensor}/${l.kind}/${l.channel}@${Math.round((l.startTs - (summary.firstTs ?? 0)) / summary.intervalMs)}`,
      );
    const at = (ts: number) => Math.round((ts - (summary.firstTs ?? 0)) / summary.intervalMs);
    const unexplained = firing
      .filter((a) => !justified.includes(a))
      .map((a) => `${a.sensor}@${at(Date.parse(a.window.end))}`);
    console.log(
      JSON.stringify({
        labels: labels.length,
        firing: firing.length,
        recall,
        precision,
        missed,
        unexplained,
      }),
    );
    assert.ok(recall >= 0.6, `recall ${recall}: missed ${missed.join(', ')}`);
    // The labels cover about a tenth of the time after the clean start: chance precision is ~0.1.
    assert.ok(precision >= 0.4, `precision ${precision} (${justified.length}/${firing.length})`);
  });
});
