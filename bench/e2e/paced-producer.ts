/**
 * Child process of the end-to-end benchmark's real-time phases: produces
 * readings to Kafka in real time over all sensors, at a fixed rate or as
 * fast as the daemon takes them (`follow`: the parent reports over IPC how
 * many readings the daemon has taken in, and the producer keeps a fixed
 * number ahead of that), each stamped with the wall clock at the moment it
 * is encoded and written to the broker's socket, for `seconds`. It runs in its own process so its work does
 * not share the daemon's event loop (nor count in the daemon's RSS), and it
 * produces through raw-producer.ts, which costs a fraction of kafkajs's CPU
 * per message: on 2 cores the generator competes with the daemon under test.
 * Usage:
 *
 *   node --import tsx bench/e2e/paced-producer.ts '<json options>'
 *
 * Prints one JSON line when done: `{ sent, seconds, startedAt, endedAt,
 * lateTicks, cpuSeconds, maxAheadMs, meanBehindMs }`. A sensor's readings need distinct
 * timestamps, so when several of them go out in one tick the earlier ones
 * are stamped 1 ms apart back from the clock: latencies are overstated by
 * `meanBehindMs` on average, never understated unless a sensor gets more
 * than one reading per millisecond (`maxAheadMs` > 0 then says by how much).
 */
import { connectRawProducer, type RawRecord } from './raw-producer.ts';
import { encodeValue, sensorName, sensorValue } from './readings.ts';

/** What the parent asks for. */
export interface PacedProducerOptions {
  brokers: string[];
  topic: string;
  sensors: number;
  /** Readings per second over all sensors (ignored with `follow`). */
  rate: number;
  /**
   * Produce as fast as the daemon takes the readings: keep this many readings
   * produced beyond what the parent last reported taken (`{ taken }` messages).
   */
  follow?: { aheadReadings: number };
  seconds: number;
  /** Reading number of each sensor's first reading (continues the signal). */
  startStep: number;
}

const TICK_MS = 5;
/** Sends not yet acknowledged before the loop waits for the oldest. */
const MAX_OUTSTANDING = 64;
/**
 * Most readings one tick produces when following: at 5 ms a tick, 400,000
 * readings/s, more than the daemon takes on 2 cores. Bounds how far back a
 * tick's readings are stamped (see meanBehindMs).
 */
const MAX_PER_FOLLOW_TICK = 2_000;

async function main(options: PacedProducerOptions): Promise<void> {
  const producer = await connectRawProducer({ brokers: options.brokers, topic: options.topic });
  const cpu0 = process.cpuUsage();
  const keys = Array.from({ length: options.sensors }, (_, s) => sensorName(s));
  // A sensor's partition: fixed, so its readings stay in order.
  const partitionOf = (sensor: number) => sensor % producer.partitions;
  const lastTs = new Float64Array(options.sensors);
  const outstanding: Promise<void>[] = [];
  const started = Date.now();
  const end = started + options.seconds * 1000;
  let sent = 0;
  let lateTicks = 0;
  let maxAhead = 0;
  let sumBehind = 0;
  const counts = new Int32Array(options.sensors);
  let next = started;
  let taken = 0;
  const follow = options.follow;
  if (follow) {
    process.on('message', (message: { taken?: number }) => {
      if (typeof message.taken === 'number') taken = Math.max(taken, message.taken);
    });
  }
  while (Date.now() < end) {
    const due = follow
      ? Math.min(MAX_PER_FOLLOW_TICK, taken + follow.aheadReadings - sent)
      : Math.floor(((Date.now() - started) / 1000) * options.rate) - sent;
    if (due > 0) {
      const byPartition: RawRecord[][] = Array.from({ length: producer.partitions }, () => []);
      const now = Date.now();
      counts.fill(0);
      for (let k = 0; k < due; k++) counts[(sent + k) % options.sensors]!++;
      for (let k = 0; k < due; k++) {
        const n = sent + k;
        const sensor = n % options.sensors;
        const step = options.startStep + Math.floor(n / options.sensors);
        // A sensor's readings due in this tick are stamped back from now, 1 ms
        // apart (its timestamps must move forward; equal ones are duplicates),
        // so none is stamped later than it is written.
        const left = --counts[sensor]!;
        const ts = Math.max(now - left, lastTs[sensor]! + 1);
        lastTs[sensor] = ts;
        maxAhead = Math.max(maxAhead, ts - now);
        sumBehind += now - ts;
        byPartition[partitionOf(sensor)]!.push({
          key: keys[sensor]!,
          value: encodeValue(sensor, ts, sensorValue(sensor, step)),
          timestamp: ts,
        });
      }
      outstanding.push(producer.send(byPartition));
      sent += due;
      if (outstanding.length >= MAX_OUTSTANDING) await outstanding.shift();
    }
    next += TICK_MS;
    const wait = next - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    else {
      lateTicks++;
      next = Date.now();
    }
  }
  const endedAt = Date.now();
  await Promise.all(outstanding);
  await producer.close();
  // The IPC channel of `follow` would keep this process alive.
  if (process.connected) process.disconnect();
  const seconds = (Date.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(
    `${JSON.stringify({
      sent,
      seconds,
      // Wall clock (epoch ms) of the first reading's tick: the bench measures from here.
      startedAt: started,
      // Wall clock when the last tick was produced (before the last acks and the close).
      endedAt,
      lateTicks,
      cpuSeconds: Math.round((cpu.user + cpu.system) / 1e4) / 100,
      maxAheadMs: maxAhead,
      meanBehindMs: sent > 0 ? Math.round((sumBehind / sent) * 100) / 100 : 0,
    })}\n`,
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
