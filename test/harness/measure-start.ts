// Prints JSON with how long each harness server takes to become ready, one
// after another (so they do not compete for the CPU), and how long the Kafka
// jars took to resolve. For a cold Maven measurement run it with
// XDG_CACHE_HOME and MAVEN_OPTS=-Dmaven.repo.local=<dir> pointing at empty
// directories:  node --import tsx test/harness/measure-start.ts
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startInflux } from './influx.ts';
import { ensureKafkaLibs, kafkaVersion, startKafka } from './kafka.ts';
import { startPrometheus } from './prometheus.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsad-measure-'));
const ms = (t0: number) => Math.round(performance.now() - t0);
/** CPU time (user + system) a process has used, which load on the shared machine does not inflate. */
const cpuMs = (pid: number) => {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
};
const result: Record<string, number | string> = { kafkaVersion: kafkaVersion() };
try {
  let t0 = performance.now();
  ensureKafkaLibs((line) => console.error(line));
  result['kafkaJarsMs'] = ms(t0);
  t0 = performance.now();
  const kafka = await startKafka({ dir: path.join(dir, 'kafka') });
  result['kafkaStartMs'] = ms(t0);
  result['kafkaStartCpuMs'] = cpuMs(kafka.process.pid);
  t0 = performance.now();
  await kafka.process.stop();
  result['kafkaStopMs'] = ms(t0);
  t0 = performance.now();
  const influx = await startInflux({ dir: path.join(dir, 'influxdb') });
  result['influxStartMs'] = ms(t0);
  await influx.process.stop();
  t0 = performance.now();
  const prometheus = await startPrometheus({ dir: path.join(dir, 'prometheus') });
  result['prometheusStartMs'] = ms(t0);
  await prometheus.stop();
  result['loadAverage1m'] = os.loadavg()[0]!.toFixed(1);
  console.log(JSON.stringify(result));
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
