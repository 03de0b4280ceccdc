#!/usr/bin/env node
// Runs the test suite with node's built-in test runner (its closing summary
// is what CI reads).
//
//   node scripts/run-tests.mjs            unit + integration tests
//   node scripts/run-tests.mjs --unit     test/unit only; starts no servers
//   node scripts/run-tests.mjs kafka      only test files whose path contains "kafka"
//
// When integration tests are selected, the real Kafka, InfluxDB and
// Prometheus are started once here (test/harness) unless KAFKA_BROKERS /
// INFLUX_URL / PROMETHEUS_URL name existing ones, their addresses handed to
// every test process as HARNESS_KAFKA_BROKERS / HARNESS_INFLUX_URL /
// HARNESS_PROMETHEUS_URL / HARNESS_PROMETHEUS_FILE_SD_DIR (read them through
// test/harness/services.ts), and stopped at the end, on failure and on
// SIGINT/SIGTERM. If a test fails, the servers' logs are kept in
// .tsad/test-logs/<timestamp>/. See docs/testing.md.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

function findTests(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => path.join(dir, f))
    .sort();
}

const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const filters = args.filter((a) => !a.startsWith('--'));
let files = [...findTests('test/unit'), ...(unitOnly ? [] : findTests('test/integration'))];
if (filters.length > 0) files = files.filter((f) => filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
const needsServices = files.some((f) => f.startsWith(`test${path.sep}integration`));

let stack;
let serviceDir;
let child;
let finishing = false;

/** Copies the servers' logs and configs (not their data) somewhere that outlives the run. */
function keepLogs(reason) {
  if (serviceDir === undefined || !fs.existsSync(serviceDir)) return;
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const target = path.join('.tsad', 'test-logs', stamp);
  fs.cpSync(serviceDir, target, {
    recursive: true,
    filter: (src) => !/^(data|state|tsdb)-\d+$/.test(path.basename(src)),
  });
  console.error(`\n${reason}: server logs kept in ${target}`);
}

async function finish(code, reason) {
  if (finishing) return;
  finishing = true;
  if (code !== 0) keepLogs(reason);
  if (stack !== undefined) await stack.stop();
  if (serviceDir !== undefined) fs.rmSync(serviceDir, { recursive: true, force: true });
  process.exit(code);
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    child?.kill(signal);
    void finish(130, `interrupted by ${signal}`);
  });
}

// The server addresses reach tests as HARNESS_KAFKA_BROKERS etc., never under
// the plain names: tsad's own config reads KAFKA_BROKERS / INFLUX_URL /
// PROMETHEUS_URL, so those would leak into every config test and every `tsad`
// a test spawns. The plain names (a developer's sourced .tsad/services.env)
// only tell this script which servers already exist.
const SERVICE_KEYS = ['KAFKA_BROKERS', 'INFLUX_URL', 'PROMETHEUS_URL', 'PROMETHEUS_FILE_SD_DIR'];
const env = { ...process.env, KAFKAJS_NO_PARTITIONER_WARNING: '1' };
for (const key of SERVICE_KEYS) delete env[key];
if (needsServices) {
  const { register } = await import('tsx/esm/api');
  register();
  const { startServices } = await import('../test/harness/stack.ts');
  serviceDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsad-test-services-'));
  const t0 = performance.now();
  try {
    stack = await startServices({ dir: serviceDir, log: (line) => console.error(line) });
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    await finish(1, 'test services failed to start');
  }
  const started = Object.entries(stack.startMs)
    .map(([name, ms]) => `${name} ${(ms / 1000).toFixed(1)}s`)
    .join(', ');
  console.error(
    `test services ready in ${((performance.now() - t0) / 1000).toFixed(1)}s` +
      `${started ? ` (${started})` : ''}: ${Object.entries(stack.env)
        .filter(([key]) => key !== 'PROMETHEUS_FILE_SD_DIR')
        .map(([key, value]) => `${key}=${value}`)
        .join(' ')}`,
  );
  for (const [key, value] of Object.entries(stack.env)) env[`HARNESS_${key}`] = value;
}

child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  env,
});
child.on('exit', (code, signal) => {
  void finish(code ?? (signal ? 1 : 0), 'tests failed');
});
