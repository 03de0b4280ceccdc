/**
 * The daemon against the real broker: 200 sensors × 2,000 readings with 5
 * anomalous sensors and 1,000 malformed messages mixed in, consumed by one
 * in-process daemon with a small pretrained model.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Admin, Kafka } from 'kafkajs';
import { createDaemon, type Daemon } from '../../../src/app/daemon.ts';
import { randomName, waitFor } from '../../harness/services.ts';
import {
  committedOffsets,
  createTopic,
  endOffsets,
  fleetMessages,
  INTERVAL_MS,
  kafkaClient,
  makeFleet,
  produce,
  readTopic,
  recordScored,
  T0,
  testConfig,
  testLogger,
  trainSmallModel,
  WINDOW,
} from './fixtures.ts';

const SENSORS = 200;
const READINGS = 2_000;
const MALFORMED = 1_000;

/** 1,000 malformed messages of every kind, each with the reason we expect. */
function malformed(): Array<{ key: string; value: string; expect: string }> {
  const kinds: Array<[string, (i: number) => string]> = [
    ['not_json', (i) => `{"sensor": "sensor-00${i % 10}", "ts": `],
    ['missing_field', (i) => JSON.stringify({ ts: T0 + i, value: 1 })],
    ['bad_timestamp', (i) => JSON.stringify({ sensor: 'sensor-001', ts: `day ${i}`, value: 1 })],
    [
      'future_timestamp',
      (i) => JSON.stringify({ sensor: 'sensor-001', ts: Date.now() + 86_400_000 + i, value: 1 }),
    ],
    ['non_numeric', (i) => JSON.stringify({ sensor: 'sensor-001', ts: T0 + i, value: 'high' })],
    ['non_finite', () => '{"sensor": "sensor-001", "ts": 1767225600000, "value": 1e999}'],
    [
      'too_large',
      (i) => JSON.stringify({ sensor: 'sensor-001', ts: T0 + i, value: 1, pad: 'x'.repeat(5_000) }),
    ],
  ];
  return Array.from({ length: MALFORMED }, (_, i) => {
    const [expect, make] = kinds[i % kinds.length]!;
    return { key: `sensor-${String(i % SENSORS).padStart(3, '0')}`, value: make(i), expect };
  });
}

describe('tsad run on a real broker: 200 sensors, 5 anomalous, 1,000 malformed', () => {
  const fleet = makeFleet(SENSORS, 5);
  const topic = randomName('readings');
  const alertTopic = `${topic}.alerts`;
  const groupId = randomName('tsad');
  const scored = new Map<string, Set<number>>();
  let kafka: Kafka;
  let admin: Admin;
  let daemon: Daemon;
  let expectedReasons: Map<string, number>;

  before(async () => {
    const modelDir = await trainSmallModel();
    kafka = kafkaClient();
    admin = kafka.admin();
    await admin.connect();
    await createTopic(admin, topic, 4);
    await createTopic(admin, alertTopic, 1);
    await createTopic(admin, `${topic}.dlq`, 1);

    const good = fleetMessages(fleet, 0, READINGS);
    const bad = malformed();
    expectedReasons = new Map();
    for (const b of bad) expectedReasons.set(b.expect, (expectedReasons.get(b.expect) ?? 0) + 1);
    // Spread the malformed messages evenly through the stream.
    const every = Math.floor(good.length / bad.length);
    const mixed: Array<{ key: string; value: string }> = [];
    good.forEach((m, i) => {
      mixed.push(m);
      const b = i % every === 0 ? bad[i / every] : undefined;
      if (b) mixed.push({ key: b.key, value: b.value });
    });
    await produce(kafka, topic, mixed);

    const withSmallLimit = testConfig({
      topic,
      alertTopic,
      groupId,
      modelDir,
      extra: {},
    });
    daemon = createDaemon({
      config: { ...withSmallLimit, kafka: { ...withSmallLimit.kafka, maxMessageBytes: 4_096 } },
      logger: testLogger,
      stdout: process.stdout,
      scoredWindows: [recordScored(scored)],
    });
    const started = Date.now();
    await daemon.start();
    const end = await endOffsets(admin, topic);
    await waitFor(
      async () => {
        const committed = await committedOffsets(admin, groupId, topic);
        const all = [...end].every(([p, high]) => committed.get(p) === high);
        return all ? true : undefined;
      },
      { what: 'every offset committed', timeoutMs: 240_000, intervalMs: 1_000 },
    );
    const seconds = (Date.now() - started) / 1000;
    testLogger.warn({ seconds, messages: mixed.length, stats: daemon.stats() }, 'stream consumed');
  });

  after(async () => {
    await daemon?.stop();
    await admin?.disconnect();
  });

  it('scores every good reading: each reading after the first window ends a scored window', () => {
    let missing = 0;
    for (const sensor of fleet.sensors) {
      const ends = scored.get(sensor) ?? new Set();
      for (let i = WINDOW - 1; i < READINGS; i++) if (!ends.has(T0 + i * INTERVAL_MS)) missing++;
    }
    assert.equal(missing, 0, `${missing} readings never ended a scored window`);
    assert.equal(scored.size, SENSORS);
  });

  it('raises firing alerts for at least 4 of the 5 anomalous sensors and at most 2 elsewhere', async () => {
    const records = await readTopic(kafka, alertTopic, 5, 15_000);
    const alerts = records.map(
      (r) => JSON.parse(r.value) as { id: string; sensor: string; state: string },
    );
    const firing = alerts.filter((a) => a.state === 'firing');
    const onAnomalous = new Set(
      firing.filter((a) => fleet.anomalous.has(a.sensor)).map((a) => a.sensor),
    );
    const elsewhere = firing.filter((a) => !fleet.anomalous.has(a.sensor));
    testLogger.warn(
      { onAnomalous: [...onAnomalous], elsewhere: elsewhere.map((a) => a.sensor) },
      'alerts',
    );
    assert.ok(onAnomalous.size >= 4, `alerts on ${onAnomalous.size} of 5 anomalous sensors`);
    assert.ok(elsewhere.length <= 2, `${elsewhere.length} alerts on normal sensors`);
    for (const record of records) {
      assert.equal(record.headers['tsad-alert-id'], JSON.parse(record.value).id);
      assert.equal(record.key, JSON.parse(record.value).sensor);
    }
  });

  it('dead-letters all 1,000 malformed messages with reason and source headers', async () => {
    const records = await readTopic(kafka, `${topic}.dlq`, MALFORMED, 20_000);
    assert.equal(records.length, MALFORMED);
    const reasons = new Map<string, number>();
    for (const r of records) {
      const reason = r.headers['tsad-reject-reason'] ?? 'none';
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      assert.equal(r.headers['tsad-source-topic'], topic);
      assert.match(r.headers['tsad-source-partition'] ?? '', /^[0-3]$/);
      assert.match(r.headers['tsad-source-offset'] ?? '', /^\d+$/);
      assert.ok((r.headers['tsad-reject-detail'] ?? '').length > 0);
    }
    assert.deepEqual(Object.fromEntries(reasons), Object.fromEntries(expectedReasons));
  });

  it('commits the offsets of every message consumed', async () => {
    const end = await endOffsets(admin, topic);
    const committed = await committedOffsets(admin, groupId, topic);
    assert.deepEqual(committed, end);
    const stats = daemon.stats()!;
    assert.equal(stats.messages, SENSORS * READINGS + MALFORMED);
    assert.equal(stats.rejected, MALFORMED);
  });
});
