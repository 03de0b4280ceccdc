import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { freePorts } from '../../harness/ports.ts';
import { services } from '../../harness/services.ts';

const run = promisify(execFile);
const BIN = new URL('../../../bin/tsad.mjs', import.meta.url).pathname;

interface Check {
  status: 'ok' | 'warn' | 'fail' | 'skip';
  target: string | null;
  detail: string;
  advice: string | null;
}
interface Report {
  backend: string;
  tensorflowVersion: string;
  libraryPages: {
    released: boolean;
    residentFileMbBefore?: number;
    residentFileMbAfter?: number;
  } | null;
  ok: boolean;
  services: Record<'kafka' | 'influx' | 'prometheus' | 'metricsPort', Check>;
}

async function doctor(env: Record<string, string>, args: string[] = ['--json']) {
  try {
    const { stdout } = await run(process.execPath, [BIN, 'doctor', ...args], {
      env: {
        ...process.env,
        KAFKA_BROKERS: '',
        INFLUX_URL: '',
        PROMETHEUS_URL: '',
        TSAD_METRICS_PORT: '0',
        ...env,
      },
    });
    return { code: 0, stdout };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('tsad doctor', () => {
  it('reports the backend and every real service as reachable, exit 0', async () => {
    const { code, stdout } = await doctor({
      KAFKA_BROKERS: services.kafkaBrokers.join(','),
      INFLUX_URL: services.influxUrl,
      PROMETHEUS_URL: services.prometheusUrl,
    });
    assert.equal(code, 0, stdout);
    const report = JSON.parse(stdout) as Report;
    assert.equal(typeof report.backend, 'string');
    assert.equal(report.ok, true);
    // On the native backend the install has built native/page-out (CI does).
    if (report.backend === 'tensorflow') {
      assert.equal(report.libraryPages?.released, true, JSON.stringify(report.libraryPages));
      assert.ok(
        report.libraryPages.residentFileMbAfter! < report.libraryPages.residentFileMbBefore!,
      );
    }
    // The default topics may not exist on the test broker: that is a warning, not a failure.
    assert.ok(['ok', 'warn'].includes(report.services.kafka.status), report.services.kafka.detail);
    assert.match(report.services.kafka.detail, /broker\(s\)/);
    assert.equal(report.services.influx.status, 'ok', report.services.influx.detail);
    assert.match(report.services.influx.detail, /^InfluxDB /);
    assert.equal(report.services.prometheus.status, 'ok');
  });

  it('fails with advice for each configured service that does not answer, exit 1', async () => {
    const [kafkaPort, influxPort, promPort] = await freePorts(3);
    const { code, stdout } = await doctor({
      KAFKA_BROKERS: `127.0.0.1:${kafkaPort}`,
      INFLUX_URL: `http://127.0.0.1:${influxPort}`,
      PROMETHEUS_URL: `http://127.0.0.1:${promPort}`,
      TSAD_KAFKA_CONNECTION_TIMEOUT_MS: '1000',
    });
    assert.equal(code, 1, stdout);
    const report = JSON.parse(stdout) as Report;
    assert.equal(report.ok, false);
    for (const name of ['kafka', 'influx', 'prometheus'] as const) {
      const check = report.services[name];
      assert.equal(check.status, 'fail', name);
      assert.match(check.detail, /unreachable: .*ECONNREFUSED/, name);
      assert.ok((check.advice ?? '').length > 20, `${name} has advice`);
    }
    assert.match(report.services.kafka.advice ?? '', /KAFKA_BROKERS/);
    assert.match(report.services.influx.advice ?? '', /INFLUX_URL/);
  });

  it('skips services that are not configured and still exits 0', async () => {
    const { code, stdout } = await doctor({}, []);
    assert.equal(code, 0, stdout);
    assert.match(stdout, /^backend: /);
    assert.match(stdout, /^kafka: skip — no brokers configured/m);
    assert.match(stdout, /^influx: skip/m);
    assert.match(stdout, /^prometheus: skip/m);
  });

  it('exits 2 naming the bad field when the config is invalid', async () => {
    const { code, stderr } = await doctor({ TSAD_KAFKA_CONNECTION_TIMEOUT_MS: 'soon' });
    assert.equal(code, 2);
    assert.match(
      stderr ?? '',
      /kafka\.connectionTimeoutMs = "soon" \(from env TSAD_KAFKA_CONNECTION_TIMEOUT_MS\)/,
    );
  });
});
