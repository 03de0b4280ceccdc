import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { Gauge, Registry } from 'prom-client';
import {
  queryPrometheus,
  randomName,
  type ScrapeTarget,
  services,
  waitFor,
} from '../../harness/services.ts';

const skip = services.canAddScrapeTargets
  ? false
  : 'PROMETHEUS_URL points at an external Prometheus without PROMETHEUS_FILE_SD_DIR, so it cannot be told to scrape this test';

const registry = new Registry();
const gauge = new Gauge({
  name: 'tsad_platform_probe_value',
  help: 'A value the test sets and expects Prometheus to scrape.',
  registers: [registry],
});
let server: http.Server;
let target: ScrapeTarget | undefined;

before(async () => {
  server = http.createServer(async (req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': registry.contentType });
    res.end(await registry.metrics());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

after(async () => {
  target?.remove();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

test('the real Prometheus scrapes an endpoint served by the test and returns the value', {
  skip,
}, async () => {
  const job = randomName('platform-scrape');
  const expected = Math.round(Math.random() * 1e6) / 1e3;
  gauge.set(expected);
  target = services.addScrapeTarget(job, `127.0.0.1:${(server.address() as AddressInfo).port}`);

  const samples = await waitFor(
    async () => {
      const result = await queryPrometheus(`tsad_platform_probe_value{job="${job}"}`);
      return result.length > 0 ? result : undefined;
    },
    { what: `a scrape of job ${job}`, timeoutMs: 30_000, intervalMs: 250 },
  );
  assert.equal(samples.length, 1);
  assert.equal(Number(samples[0]?.value[1]), expected);

  const up = await queryPrometheus(`up{job="${job}"}`);
  assert.equal(up[0]?.value[1], '1');

  // A changed value shows up at the next scrape: Prometheus really reads the endpoint each time.
  gauge.set(expected + 1);
  await waitFor(
    async () => {
      const result = await queryPrometheus(`tsad_platform_probe_value{job="${job}"}`);
      return Number(result[0]?.value[1]) === expected + 1 ? true : undefined;
    },
    { what: 'the changed value to be scraped', timeoutMs: 30_000, intervalMs: 250 },
  );
});
