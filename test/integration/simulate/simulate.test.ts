import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import type { SimulationSummary } from '../../../src/adapters/simulator/produce-simulation.ts';
import { createSimulator } from '../../../src/adapters/simulator/simulator.ts';
import { runCli } from '../../../src/cli/cli.ts';
import { randomName, services, waitFor } from '../../harness/services.ts';
import { tempDir } from '../../harness/temp-dir.ts';

let kafka: Kafka;
let admin: Admin;
const dir = tempDir('tsad-simulate-');

before(async () => {
  kafka = new Kafka({
    clientId: 'tsad-simulate-test',
    brokers: services.kafkaBrokers,
    logLevel: logLevel.WARN,
  });
  admin = kafka.admin();
  await admin.connect();
});

after(async () => {
  await admin?.disconnect();
});

async function simulate(argv: string[], signal?: AbortSignal) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c) => {
    out += c;
  });
  stderr.on('data', (c) => {
    err += c;
  });
  const code = await runCli(
    ['simulate', '--brokers', services.kafkaBrokers.join(','), '--log-level', 'warn', ...argv],
    { stdout, stderr, ...(signal === undefined ? {} : { shutdownSignal: signal }) },
  );
  return { code, out, err };
}

async function consumeAll(topic: string, expected: number) {
  const received: { key: string; value: string; partition: number }[] = [];
  const consumer = kafka.consumer({ groupId: randomName('simulate-group') });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message, partition }) => {
        received.push({
          key: message.key?.toString() ?? '',
          value: message.value?.toString() ?? '',
          partition,
        });
      },
    });
    await waitFor(() => (received.length >= expected ? true : undefined), {
      what: `${expected} messages on ${topic}`,
      timeoutMs: 30_000,
    });
  } finally {
    await consumer.disconnect();
  }
  return received;
}

describe('tsad simulate into the real broker', () => {
  it('produces every reading in the input format, keyed by sensor, with labels to a topic and a file', async () => {
    const topic = randomName('simulate-readings');
    const labelsTopic = randomName('simulate-labels');
    const labelsFile = path.join(dir, 'labels.jsonl');
    const startTs = 1_700_000_000_000;
    const { code, out, err } = await simulate([
      '--topic',
      topic,
      '--sensors',
      '3',
      '--rate',
      '0',
      '--points',
      '200',
      '--anomalies',
      '5',
      '--seed',
      '9',
      '--start-ts',
      String(startTs),
      '--labels-topic',
      labelsTopic,
      '--labels-file',
      labelsFile,
    ]);
    assert.equal(code, 0, err);
    const summary = JSON.parse(out) as SimulationSummary;
    assert.equal(summary.readings, 600);
    assert.equal(summary.topic, topic);
    assert.equal(summary.anomalies.total, 5);
    assert.equal(summary.aborted, false);

    const messages = await consumeAll(topic, 600);
    assert.equal(messages.length, 600);
    // --rate 0 (as fast as possible) keeps the default spacing of 1 s per sensor.
    assert.equal(summary.intervalMs, 1000);
    const expected = createSimulator({
      sensors: 3,
      points: 200,
      anomalies: 5,
      seed: 9,
      startTs,
      intervalMs: 1000,
    });
    const want = new Map([...expected].map((r) => [`${r.sensor}@${r.ts}`, r]));
    const perSensor = new Map<string, { ts: number; partition: number }[]>();
    for (const message of messages) {
      const body = JSON.parse(message.value) as { sensor: string; ts: number };
      assert.deepEqual(Object.keys(body), ['sensor', 'ts', 'values']);
      assert.equal(message.key, body.sensor);
      assert.deepEqual(
        body,
        want.get(`${body.sensor}@${body.ts}`),
        'same data as the seeded simulator',
      );
      perSensor.set(body.sensor, [
        ...(perSensor.get(body.sensor) ?? []),
        { ts: body.ts, partition: message.partition },
      ]);
    }
    for (const [sensor, seen] of perSensor) {
      assert.equal(
        new Set(seen.map((s) => s.partition)).size,
        1,
        `${sensor} stays in one partition`,
      );
      for (let i = 1; i < seen.length; i++)
        assert.ok((seen[i]?.ts ?? 0) > (seen[i - 1]?.ts ?? 0), `${sensor} in order`);
    }

    assert.deepEqual(summary.anomalies.labels, expected.plannedLabels());
    const fromFile = fs
      .readFileSync(labelsFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(fromFile, summary.anomalies.labels);
    const labelMessages = await consumeAll(labelsTopic, 5);
    assert.deepEqual(
      labelMessages.map((m) => JSON.parse(m.value)).sort((a, b) => a.startTs - b.startTs),
      [...summary.anomalies.labels].sort((a, b) => a.startTs - b.startTs),
    );
    assert.ok(labelMessages.every((m) => m.key === JSON.parse(m.value).sensor));
  });

  it('stops before producing when the labels file cannot be written, naming it', async () => {
    const topic = randomName('simulate-readings');
    const plain = path.join(dir, 'plain.txt');
    fs.writeFileSync(plain, 'kept\n');
    const labelsFile = path.join(plain, 'labels.jsonl');
    const { code, out, err } = await simulate([
      ...['--topic', topic, '--rate', '0', '--points', '50'],
      ...['--labels-file', labelsFile],
    ]);
    assert.equal(code, 1, err);
    assert.equal(out, '');
    assert.ok(
      err.endsWith(`tsad: cannot write labels file ${labelsFile}: ENOTDIR: not a directory\n`),
      err,
    );
    const offsets = await admin.fetchTopicOffsets(topic);
    assert.ok(
      offsets.every((o) => o.high === '0'),
      JSON.stringify(offsets),
    );
  });

  it('paces readings at --rate', async () => {
    const topic = randomName('simulate-paced');
    const started = Date.now();
    const { code, out, err } = await simulate([
      '--topic',
      topic,
      '--sensors',
      '2',
      '--rate',
      '100',
      '--points',
      '30',
    ]);
    assert.equal(code, 0, err);
    const summary = JSON.parse(out) as SimulationSummary;
    assert.equal(summary.readings, 60);
    // 60 readings at 100/s: the last is due 590 ms after the first.
    assert.ok(Date.now() - started >= 590);
    assert.ok(summary.achievedRate <= 110, `achieved ${summary.achievedRate}/s`);
    assert.equal(summary.intervalMs, 20, 'timestamps follow the wall clock: 2 sensors at 100/s');
  });

  it('writes an unpaced run of --points as a history ending now, not running ahead of the clock', async () => {
    const topic = randomName('simulate-history');
    const before = Date.now();
    const { code, out, err } = await simulate([
      '--topic',
      topic,
      '--sensors',
      '2',
      '--rate',
      '0',
      '--points',
      '1000',
    ]);
    assert.equal(code, 0, err);
    const summary = JSON.parse(out) as SimulationSummary;
    assert.equal(summary.intervalMs, 1000);
    // 1,000 readings a second apart: from about 1,000 s ago up to now.
    assert.ok(summary.lastTs !== null && summary.firstTs !== null);
    assert.ok(summary.lastTs <= Date.now(), `last ${summary.lastTs} is not in the future`);
    assert.ok(summary.lastTs >= before - 1_000, `last ${summary.lastTs} ends about now`);
    // The two sensors' stamps are half an interval apart.
    assert.equal(summary.lastTs - summary.firstTs, 999_500);
  });

  it('runs endlessly until the shutdown signal, then reports what it produced', async () => {
    const topic = randomName('simulate-endless');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 1500);
    const { code, out, err } = await simulate(
      ['--topic', topic, '--sensors', '2', '--rate', '200'],
      controller.signal,
    );
    assert.equal(code, 0, err);
    const summary = JSON.parse(out) as SimulationSummary;
    assert.equal(summary.aborted, true);
    assert.ok(summary.readings > 50, `${summary.readings} readings`);
    const messages = await consumeAll(topic, summary.readings);
    assert.equal(messages.length, summary.readings);
  });
});
