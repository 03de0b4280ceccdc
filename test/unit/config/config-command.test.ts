import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { runCli } from '../../../src/cli/cli.ts';
import { loadConfig } from '../../../src/config/load-config.ts';
import { configReferenceMarkdown, MASK } from '../../../src/config/print-config.ts';
import { SETTINGS } from '../../../src/config/settings.ts';
import { THRESHOLD_DEFAULTS } from '../../../src/detector/thresholds/threshold.ts';
import { defaultModelConfig } from '../../../src/model/config.ts';
import { tempDir } from '../../harness/temp-dir.ts';

const dir = tempDir('tsad-config-cli-');

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk) => {
    out += chunk;
  });
  stderr.on('data', (chunk) => {
    err += chunk;
  });
  const code = await runCli(argv, { stdout, stderr });
  return { code, out, err };
}

describe('tsad config print', () => {
  it('prints the effective config as YAML that loads back to the same config', async () => {
    const file = path.join(dir, 'ok.yaml');
    fs.writeFileSync(file, 'window:\n  size: 48\n');
    const { code, out } = await run([
      'config',
      'print',
      '--config',
      file,
      '--set',
      'alerts.confirmN=7',
    ]);
    assert.equal(code, 0);
    const printed = parse(out);
    assert.equal(printed.window.size, 48);
    assert.equal(printed.alerts.confirmN, 7);
    const again = path.join(dir, 'again.yaml');
    fs.writeFileSync(again, out);
    assert.deepEqual(
      loadConfig({ configFile: again, env: {} }),
      loadConfig({ configFile: file, env: {}, flags: { alerts: { confirmN: 7 } } }),
    );
  });

  it('masks the SASL and InfluxDB passwords', async () => {
    const file = path.join(dir, 'secret.yaml');
    fs.writeFileSync(
      file,
      'kafka:\n  sasl:\n    mechanism: plain\n    username: u\n    password: hunter2\ninflux:\n  password: s3cret\n',
    );
    for (const format of ['yaml', 'json']) {
      const { code, out } = await run(['config', 'print', '--config', file, '--format', format]);
      assert.equal(code, 0);
      assert.ok(!out.includes('hunter2') && !out.includes('s3cret'), out);
      const printed = format === 'json' ? JSON.parse(out) : parse(out);
      assert.equal(printed.kafka.sasl.password, MASK);
      assert.equal(printed.influx.password, MASK);
      assert.equal(printed.kafka.sasl.username, 'u');
    }
  });

  it('applies the --brokers shortcut flag over the file', async () => {
    const file = path.join(dir, 'brokers.yaml');
    fs.writeFileSync(file, 'kafka:\n  brokers: [file:1]\n');
    const { out } = await run(['config', 'print', '--config', file, '--brokers', 'a:1,b:2']);
    assert.deepEqual(parse(out).kafka.brokers, ['a:1', 'b:2']);
  });

  it('exits 2 on a bad config and names each bad field on stderr', async () => {
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(
      file,
      'window:\n  size: 4\n  stride: 8\nkafka:\n  bokers: [a]\nlog:\n  level: loud\n',
    );
    const { code, out, err } = await run([
      'config',
      'print',
      '--config',
      file,
      '--set',
      'model.dropout=2',
    ]);
    assert.equal(code, 2);
    assert.equal(out, '');
    assert.match(err, /invalid configuration \(4 problems\)/);
    for (const field of ['window.stride', 'kafka.bokers', 'log.level', 'model.dropout']) {
      assert.ok(err.includes(`  - ${field}`), `${field} named in:\n${err}`);
    }
  });

  it('makes every config-reading command exit 2 on a bad config, naming each bad field', async () => {
    const file = path.join(dir, 'bad-for-all.yaml');
    fs.writeFileSync(file, 'window:\n  stride: 0\nalerts:\n  confirmK: 9\n  confirmN: 2\n');
    for (const command of [
      ['run'],
      ['simulate', '--brokers', 'x:1'],
      ['doctor'],
      ['config', 'print'],
    ]) {
      const { code, err } = await run([...command, '--config', file]);
      assert.equal(code, 2, `tsad ${command.join(' ')}`);
      assert.match(err, /- window\.stride = 0 .*must be ≥ 1/);
      assert.match(err, /- alerts\.confirmK = 9 .*at most alerts\.confirmN \(2\)/);
    }
  });

  it('exits 2 on a broker without a port and on a topic name Kafka refuses', async () => {
    const { code, err } = await run([
      'config',
      'print',
      '--brokers',
      'nonsense',
      '--set',
      'kafka.inputTopic=bad topic',
    ]);
    assert.equal(code, 2);
    assert.match(err, /- kafka\.brokers\.0 = "nonsense" \(from flag\): expected host:port/);
    assert.match(err, /- kafka\.inputTopic = "bad topic" \(from flag\): expected a Kafka topic/);
  });

  it('exits 2 for an unknown --set path, suggesting the right one', async () => {
    const { code, err } = await run(['config', 'print', '--set', 'window.sise=3']);
    assert.equal(code, 2);
    assert.match(
      err,
      /window\.sise \(from flag\): unknown setting in window; did you mean "size"\?/,
    );
  });
});

describe('tsad --help', () => {
  it('shows the schema default of config shortcut flags and commander defaults', async () => {
    const { code, out } = await run(['config', 'print', '--help']);
    assert.equal(code, 0);
    assert.match(out, /--brokers <list>[\s\S]*\(default: \[\]\)/);
    assert.match(out, /--format <format>[\s\S]*default: "yaml"/);
  });
});

describe('docs/configuration.md', () => {
  it('is the generated reference (run `npx tsad config docs > docs/configuration.md`)', () => {
    const page = fs.readFileSync(
      new URL('../../../docs/configuration.md', import.meta.url),
      'utf8',
    );
    // Compared cell by cell, so a formatter re-padding the tables does not matter.
    assert.deepEqual(normalise(page), normalise(configReferenceMarkdown()));
    const rows = new Set(normalise(page).filter((l) => l.startsWith('| `')));
    for (const setting of SETTINGS) {
      assert.ok(
        [...rows].some((r) => r.startsWith(`| \`${setting.path}\` | \`${setting.envVar}\``)),
        `${setting.path} is listed with ${setting.envVar}`,
      );
    }
  });
});

function normalise(markdown: string): string[] {
  return markdown
    .trim()
    .split('\n')
    .map((line) =>
      line.startsWith('|')
        ? line
            .split(/(?<!\\)\|/)
            .map((cell) => cell.trim().replace(/^-+$/, '---'))
            .join(' | ')
            .trim()
        : line,
    );
}

describe('config defaults', () => {
  it('match the model defaults of src/model/config.ts', () => {
    const { model, window } = loadConfig({ env: {} });
    const { windowSize, ...rest } = defaultModelConfig;
    assert.equal(window.size, windowSize);
    for (const [key, value] of Object.entries(rest)) {
      assert.deepEqual(model[key as keyof typeof model], value, `model.${key}`);
    }
  });

  it('match the threshold defaults of src/detector', () => {
    const { threshold } = loadConfig({ env: {} });
    for (const method of ['spot', 'dspot', 'rolling', 'telemanom'] as const) {
      const { method: _, ...params } = THRESHOLD_DEFAULTS[method];
      assert.deepEqual({ ...threshold[method] }, params, method);
    }
  });
});
