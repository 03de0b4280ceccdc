/**
 * Child process of the end-to-end benchmark's latency phase: produces
 * readings to Kafka in real time at a fixed rate over all sensors, each
 * stamped with the wall clock at the moment it is sent, for `seconds`. It
 * runs in its own process so its JSON encoding and kafkajs work do not share
 * the daemon's event loop (nor count in the daemon's RSS). Usage:
 *
 *   node --import tsx bench/e2e/paced-producer.ts '<json options>'
 *
 * Prints one JSON line `{ sent, seconds, lateTicks }` when done.
 */
import { Kafka, logLevel, type Message, Partitioners } from 'kafkajs';
import { encodeValue, sensorName, sensorValue } from './readings.ts';

/** What the parent asks for. */
export interface PacedProducerOptions {
  brokers: string[];
  topic: string;
  sensors: number;
  /** Readings per second over all sensors. */
  rate: number;
  seconds: number;
  /** Reading number of each sensor's first reading (continues the signal). */
  startStep: number;
}

const TICK_MS = 10;

async function main(options: PacedProducerOptions): Promise<void> {
  const kafka = new Kafka({
    clientId: 'tsad-bench-e2e-producer',
    brokers: options.brokers,
    logLevel: logLevel.ERROR,
  });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const lastTs = new Float64Array(options.sensors);
  const started = Date.now();
  const end = started + options.seconds * 1000;
  let sent = 0;
  let lateTicks = 0;
  let next = started;
  while (Date.now() < end) {
    const due = Math.floor(((Date.now() - started) / 1000) * options.rate) - sent;
    if (due > 0) {
      const messages: Message[] = [];
      for (let k = 0; k < due; k++) {
        const n = sent + k;
        const sensor = n % options.sensors;
        const step = options.startStep + Math.floor(n / options.sensors);
        // Timestamps of one sensor must move forward (equal ones are duplicates).
        const ts = Math.max(Date.now(), lastTs[sensor]! + 1);
        lastTs[sensor] = ts;
        messages.push({
          key: sensorName(sensor),
          value: encodeValue(sensor, ts, sensorValue(sensor, step)),
        });
      }
      // After a slow send many readings are due at once: keep each request
      // well under the broker's message.max.bytes (1 MB by default).
      for (let k = 0; k < messages.length; k += 2_000) {
        await producer.send({
          topic: options.topic,
          messages: messages.slice(k, k + 2_000),
          acks: 1,
        });
      }
      sent += due;
    }
    next += TICK_MS;
    const wait = next - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    else {
      lateTicks++;
      next = Date.now();
    }
  }
  await producer.disconnect();
  process.stdout.write(
    `${JSON.stringify({ sent, seconds: (Date.now() - started) / 1000, lateTicks })}\n`,
  );
}

const arg = process.argv[2];
if (arg === undefined) {
  process.stderr.write('usage: paced-producer.ts <json options>\n');
  process.exit(2);
}
main(JSON.parse(arg) as PacedProducerOptions).catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : error}\n`);
  process.exit(1);
});
