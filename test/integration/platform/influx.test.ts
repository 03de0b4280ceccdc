import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { FieldType, InfluxDB } from 'influx';
import { randomName, services } from '../../harness/services.ts';

const database = randomName('platform_influx').replaceAll('-', '_');
let influx: InfluxDB;

before(async () => {
  influx = new InfluxDB({
    host: new URL(services.influxUrl).hostname,
    port: Number(new URL(services.influxUrl).port),
    database,
    schema: [
      {
        measurement: 'anomaly_score',
        fields: { score: FieldType.FLOAT, alert: FieldType.BOOLEAN },
        tags: ['sensor'],
      },
    ],
  });
  await influx.createDatabase(database);
});

after(async () => {
  await influx?.dropDatabase(database);
});

test('points written to the real InfluxDB are queried back with their tags, fields and times', async () => {
  const base = Date.UTC(2026, 0, 1);
  const points = Array.from({ length: 10 }, (_, i) => ({
    measurement: 'anomaly_score',
    tags: { sensor: i % 2 === 0 ? 'pump-1' : 'pump-2' },
    fields: { score: i / 4, alert: i === 7 },
    timestamp: new Date(base + i * 1000),
  }));
  await influx.writePoints(points, { precision: 'ms' });

  assert.ok((await influx.getDatabaseNames()).includes(database));
  const rows = await influx.query<{ time: Date; sensor: string; score: number; alert: boolean }>(
    `SELECT score, alert, sensor FROM anomaly_score WHERE sensor = 'pump-2' ORDER BY time ASC`,
  );
  assert.deepEqual(
    rows.map((r) => ({ time: r.time.getTime(), sensor: r.sensor, score: r.score, alert: r.alert })),
    points
      .filter((p) => p.tags.sensor === 'pump-2')
      .map((p) => ({
        time: p.timestamp.getTime(),
        sensor: 'pump-2',
        score: p.fields.score,
        alert: p.fields.alert,
      })),
  );

  const [summary] = await influx.query<{ count: number; max: number }>(
    'SELECT COUNT(score) AS count, MAX(score) AS max FROM anomaly_score',
  );
  assert.equal(summary?.count, 10);
  assert.equal(summary?.max, 9 / 4);
});
