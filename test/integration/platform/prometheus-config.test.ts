import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { type PrometheusServer, startPrometheus } from '../../harness/prometheus.ts';
import { tempDir } from '../../harness/temp-dir.ts';
import { waitFor } from '../../harness/wait.ts';

// Starts a Prometheus of its own (about a second) with a config and rule file
// given by the test, as the tests of deploy/prometheus will do.

let dir: string;
let prometheus: PrometheusServer | undefined;
let server: http.Server;

const metrics = '# TYPE tsad_platform_rule_input gauge\ntsad_platform_rule_input 21\n';

function config(ruleFile: string): string {
  return `global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ['${ruleFile}']
scrape_configs:
  - job_name: rule-input
    file_sd_configs:
      - files: ['\${FILE_SD_DIR}/*.json']
        refresh_interval: 1s
`;
}

async function query(expr: string): Promise<string | undefined> {
  const url = new URL('/api/v1/query', prometheus!.url);
  url.searchParams.set('query', expr);
  const body = (await (await fetch(url)).json()) as {
    data: { result: { value: [number, string] }[] };
  };
  return body.data.result[0]?.value[1];
}

before(async () => {
  dir = tempDir('tsad-prom-config-');
  server = http.createServer((_req, res) => res.end(metrics));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

after(async () => {
  await prometheus?.stop();
  server.closeAllConnections();
  server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a harness Prometheus runs a given config with its rule files and applies a reloaded one', async () => {
  prometheus = await startPrometheus({
    dir,
    configYaml: config('double.rules.yml'),
    ruleFiles: {
      'double.rules.yml': `groups:
  - name: platform
    rules:
      - record: tsad_platform_rule_doubled
        expr: tsad_platform_rule_input * 2
`,
    },
  });
  prometheus.addScrapeTarget('rule-input', `127.0.0.1:${(server.address() as AddressInfo).port}`);
  const doubled = await waitFor(() => query('tsad_platform_rule_doubled'), {
    what: 'the recording rule',
    timeoutMs: 30_000,
  });
  assert.equal(doubled, '42');

  await prometheus.reload({
    configYaml: config('triple.rules.yml'),
    ruleFiles: {
      'triple.rules.yml': `groups:
  - name: platform
    rules:
      - record: tsad_platform_rule_tripled
        expr: tsad_platform_rule_input * 3
`,
    },
  });
  const tripled = await waitFor(() => query('tsad_platform_rule_tripled'), {
    what: 'the reloaded recording rule',
    timeoutMs: 30_000,
  });
  assert.equal(tripled, '63');

  await assert.rejects(
    prometheus.reload({ configYaml: 'scrape_configs: [ { job_name: 1' }),
    /rejected the new config/,
  );
});
