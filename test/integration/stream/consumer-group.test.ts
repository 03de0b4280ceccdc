/**
 * Two daemons in one consumer group on a 4-partition topic: each sensor is
 * scored by exactly one of them, and stopping one moves its partitions (and
 * so its sensors) to the other.
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
  recordScored,
  T0,
  testConfig,
  testLogger,
  trainSmallModel,
  WINDOW,
} from './fixtures.ts';

const SENSORS = 40;
const FIRST = 600;
const SECOND = 1_200;

describe('two daemons in one consumer group', () => {
  const fleet = makeFleet(SENSORS, 0);
  const topic = randomName('readings');
  const groupId = randomName('tsad');
  let kafka: Kafka;
  let admin: Admin;
  let modelDir: string;
  const daemons: Daemon[] = [];
  /** Per daemon: sensor → window end timestamps it scored. */
  const scoredBy: Array<Map<string, Set<number>>> = [new Map(), new Map()];

  const startDaemon = async (index: number) => {
    const config = testConfig({ topic, alertTopic: `${topic}.alerts`, groupId, modelDir });
    const seen = scoredBy[index]!;
    const daemon = createDaemon({
      config,
      logger: testLogger,
      stdout: process.stdout,
      scoredWindows: [recordScored(seen)],
    });
    daemons.push(daemon);
    await daemon.start();
    return daemon;
  };

  const groupSettled = (members: number) =>
    waitFor(
      async () => {
        const { groups } = await admin.describeGroups([groupId]);
        const group = groups[0];
        return group?.state === 'Stable' && group.members.length === members ? true : undefined;
      },
      { what: `group stable with ${members} member(s)`, timeoutMs: 60_000, intervalMs: 250 },
    );

  const allCommitted = async () => {
    const end = await endOffsets(admin, topic);
    await waitFor(
      async () => {
        const committed = await committedOffsets(admin, groupId, topic);
        return [...end].every(([p, high]) => committed.get(p) === high) ? true : undefined;
      },
      { what: 'every offset committed', timeoutMs: 120_000, intervalMs: 500 },
    );
  };

  before(async () => {
    modelDir = await trainSmallModel();
    kafka = kafkaClient();
    admin = kafka.admin();
    await admin.connect();
    await createTopic(admin, topic, 4);
  });

  after(async () => {
    for (const daemon of daemons) await daemon.stop();
    await admin?.disconnect();
  });

  it('scores each sensor in exactly one daemon, and moves sensors to the survivor when one stops', async () => {
    await startDaemon(0);
    await groupSettled(1);
    await startDaemon(1);
    await groupSettled(2);

    await produce(kafka, topic, fleetMessages(fleet, 0, FIRST));
    await allCommitted();
    const [a, b] = scoredBy as [Map<string, Set<number>>, Map<string, Set<number>>];
    const both = fleet.sensors.filter((s) => a.has(s) && b.has(s));
    const neither = fleet.sensors.filter((s) => !a.has(s) && !b.has(s));
    assert.deepEqual(both, [], 'sensors scored by both daemons');
    assert.deepEqual(neither, [], 'sensors scored by neither daemon');
    assert.ok(a.size > 0 && b.size > 0, `split ${a.size}/${b.size}: both daemons own partitions`);
    for (const sensor of fleet.sensors) {
      const ends = a.get(sensor) ?? b.get(sensor)!;
      assert.equal(ends.size, FIRST - WINDOW + 1, `windows of ${sensor}`);
    }

    const movedSensors = [...a.keys()];
    await daemons[0]!.stop();
    await groupSettled(1);
    await produce(kafka, topic, fleetMessages(fleet, FIRST, SECOND));
    await allCommitted();
    // The survivor now scores every sensor; moved ones after warming up again.
    for (const sensor of fleet.sensors) {
      const ends = b.get(sensor) ?? new Set<number>();
      const firstEnd = movedSensors.includes(sensor) ? FIRST + WINDOW - 1 : FIRST;
      for (let i = firstEnd; i < SECOND; i++) {
        assert.ok(
          ends.has(T0 + i * INTERVAL_MS),
          `${sensor}: reading ${i} not scored by the survivor`,
        );
      }
    }
    assert.equal(a.size, movedSensors.length, 'the stopped daemon scored nothing more');
  });
});
