import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig, resolveConfig } from '../../../src/config/load-config.ts';
import { SETTINGS } from '../../../src/config/settings.ts';
import { isTsadError } from '../../../src/errors.ts';
import { tempDir } from '../../harness/temp-dir.ts';

const dir = tempDir('tsad-config-');
function yamlFile(text: string): string {
  const file = path.join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  fs.writeFileSync(file, text);
  return file;
}

function problemsOf(options: Parameters<typeof resolveConfig>[0]) {
  const { problems } = resolveConfig(options);
  return problems;
}

describe('loadConfig sources', () => {
  it('gives every default with no sources, and derives the dead-letter topic', () => {
    const config = loadConfig({ env: {} });
    assert.equal(config.window.size, 32);
    assert.equal(config.window.stride, 1);
    assert.deepEqual(config.kafka.brokers, []);
    assert.equal(config.kafka.deadLetterTopic, 'sensor-readings.dlq');
    assert.equal(config.metrics.port, 9464);
    assert.equal(config.shutdown.timeoutMs, 10000);
    assert.equal(config.influx.url, undefined);
  });

  it('lets the file override defaults, env override the file, and flags override env', () => {
    const file = yamlFile(
      'window:\n  size: 40\n  stride: 2\nkafka:\n  inputTopic: from-file\nlog:\n  level: warn\n',
    );
    const env = { TSAD_WINDOW_SIZE: '50', TSAD_KAFKA_INPUT_TOPIC: 'from-env' };
    const flags = { window: { size: 60 } };
    const onlyFile = loadConfig({ configFile: file, env: {} });
    assert.equal(onlyFile.window.size, 40);
    assert.equal(onlyFile.kafka.inputTopic, 'from-file');
    const withEnv = loadConfig({ configFile: file, env });
    assert.equal(withEnv.window.size, 50);
    assert.equal(withEnv.kafka.inputTopic, 'from-env');
    const all = loadConfig({ configFile: file, env, flags });
    assert.equal(all.window.size, 60);
    assert.equal(all.window.stride, 2, 'untouched file value survives the deeper merge');
    assert.equal(all.kafka.inputTopic, 'from-env');
    assert.equal(all.log.level, 'warn');
    assert.equal(all.kafka.deadLetterTopic, 'from-env.dlq');
  });

  it('reads the config file from TSAD_CONFIG when no --config is given', () => {
    const file = yamlFile('window:\n  size: 12\n');
    assert.equal(loadConfig({ env: { TSAD_CONFIG: file } }).window.size, 12);
  });

  it('parses env lists, booleans, numbers and JSON, and honours aliases below TSAD_ names', () => {
    const config = loadConfig({
      env: {
        KAFKA_BROKERS: 'a:9092, b:9093',
        INFLUX_URL: 'http://influx:8086',
        TSAD_KAFKA_SSL: 'yes',
        TSAD_MODEL_HIDDEN_UNITS: '16,8',
        TSAD_ALERTS_HYSTERESIS: '0.5',
      },
    });
    assert.deepEqual(config.kafka.brokers, ['a:9092', 'b:9093']);
    assert.equal(config.influx.url, 'http://influx:8086');
    assert.equal(config.kafka.ssl, true);
    assert.deepEqual(config.model.hiddenUnits, [16, 8]);
    assert.equal(config.alerts.hysteresis, 0.5);
    const both = loadConfig({ env: { KAFKA_BROKERS: 'alias:1', TSAD_KAFKA_BROKERS: 'tsad:2' } });
    assert.deepEqual(both.kafka.brokers, ['tsad:2']);
  });

  it('treats an empty environment variable as unset and ignores foreign TSAD_ variables', () => {
    const config = loadConfig({
      env: { INFLUX_URL: '', TSAD_CACHE_DIR: '/x', TSAD_WINDOW_SIZE: '' },
    });
    assert.equal(config.influx.url, undefined);
    assert.equal(config.window.size, 32);
  });

  it('returns a deep-frozen config', () => {
    const config = loadConfig({ env: {} });
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.kafka.sasl));
    assert.ok(Object.isFrozen(config.model.hiddenUnits));
    assert.throws(() => {
      (config.window as { size: number }).size = 1;
    }, TypeError);
  });

  it('accepts an empty config file', () => {
    assert.equal(loadConfig({ configFile: yamlFile(''), env: {} }).window.size, 32);
  });
});

describe('loadConfig validation', () => {
  it('reports a type error with path, value, source and the expected type', () => {
    const [problem, ...rest] = problemsOf({ env: { TSAD_WINDOW_SIZE: 'big' } });
    assert.equal(rest.length, 0);
    assert.deepEqual(problem, {
      path: 'window.size',
      value: 'big',
      source: 'env TSAD_WINDOW_SIZE',
      message: 'expected integer ≥ 2, got a string',
    });
  });

  it('reports a bad list item at its index with the item type', () => {
    const [problem] = problemsOf({ flags: { model: { hiddenUnits: [8, 'x'] } } });
    assert.equal(problem?.path, 'model.hiddenUnits.1');
    assert.equal(problem?.source, 'flag');
    assert.match(problem?.message ?? '', /expected number, got a string/);
  });

  it('reports range, enum, URL, empty-string and non-mapping errors', () => {
    const file = yamlFile(
      [
        'alerts:\n  hysteresis: 2',
        'log:\n  level: loud',
        'influx:\n  url: ftp://x',
        'kafka:\n  clientId: ""',
        'window: 3',
        'simulator:\n  channels: []',
      ].join('\n'),
    );
    const byPath = new Map(problemsOf({ configFile: file, env: {} }).map((p) => [p.path, p]));
    assert.equal(byPath.get('alerts.hysteresis')?.message, 'must be ≤ 1');
    assert.match(byPath.get('log.level')?.message ?? '', /^expected one of "fatal", "error"/);
    assert.equal(byPath.get('influx.url')?.message, 'expected an http:// or https:// URL');
    assert.equal(byPath.get('kafka.clientId')?.message, 'must not be empty');
    assert.equal(byPath.get('window')?.message, 'expected a mapping of settings, got a number');
    assert.equal(byPath.get('simulator.channels')?.message, 'must have at least 1 item');
    assert.equal(byPath.get('alerts.hysteresis')?.source, `file ${file}`);
  });

  it('rejects a broker that is not host:port with a port from 1 to 65535, naming its index', () => {
    const bad = ['nonsense', '127.0.0.1', 'a:0', 'b:65536', 'c:x', 'http://d:9092', '[::1]:9092'];
    const problems = problemsOf({ env: {}, flags: { kafka: { brokers: ['ok:9092', ...bad] } } });
    assert.deepEqual(
      problems.map((p) => [p.path, p.value]),
      bad.map((broker, i) => [`kafka.brokers.${i + 1}`, broker]),
    );
    assert.equal(problems[0]?.message, 'expected host:port with a port from 1 to 65535');
    assert.match(problems.at(-1)?.message ?? '', /IPv6 literals are not supported/);
    // From text (a variable or a flag), an IPv6 literal only looks like a JSON array.
    const [fromEnv] = problemsOf({ env: { KAFKA_BROKERS: '[::1]:9092' } });
    assert.equal(fromEnv?.path, 'kafka.brokers.0');
    assert.match(fromEnv?.message ?? '', /IPv6 literals are not supported/);
    assert.deepEqual(loadConfig({ env: { KAFKA_BROKERS: '["a:1", "b:2"]' } }).kafka.brokers, [
      'a:1',
      'b:2',
    ]);
    const good = ['localhost:9092', '10.0.0.1:1', 'kafka-0.kafka_svc.local:65535'];
    assert.deepEqual(loadConfig({ env: { KAFKA_BROKERS: good.join(',') } }).kafka.brokers, good);
  });

  it('rejects input.channels naming a channel twice, at the repeat', () => {
    const problems = problemsOf({ env: { TSAD_INPUT_CHANNELS: 'temp,vibration,temp' } });
    assert.deepEqual(
      problems.map((p) => [p.path, p.value, p.source, p.message]),
      [['input.channels.2', 'temp', 'env TSAD_INPUT_CHANNELS', 'repeats channel 0 ("temp")']],
    );
    const fine = {
      env: { TSAD_INPUT_CHANNELS: 'vibration,temp', KAFKA_BROKERS: 'localhost:9092' },
    };
    assert.deepEqual(loadConfig(fine).input.channels, ['vibration', 'temp']);
  });

  it('rejects a topic name Kafka would refuse, for each of the three topics', () => {
    const problems = problemsOf({
      env: { TSAD_KAFKA_INPUT_TOPIC: 'bad topic' },
      flags: { kafka: { deadLetterTopic: 'bad dlq!', alertTopic: '..' } },
    });
    const byPath = new Map(problems.map((p) => [p.path, p]));
    assert.equal(problems.length, 3, JSON.stringify(problems));
    assert.match(byPath.get('kafka.inputTopic')?.message ?? '', /Kafka topic name: only letters/);
    assert.equal(byPath.get('kafka.inputTopic')?.source, 'env TSAD_KAFKA_INPUT_TOPIC');
    assert.match(byPath.get('kafka.deadLetterTopic')?.message ?? '', /only letters/);
    assert.match(byPath.get('kafka.alertTopic')?.message ?? '', /other than "." and ".."/);
    const long = problemsOf({ env: {}, flags: { kafka: { alertTopic: 'a'.repeat(250) } } });
    assert.deepEqual(
      long.map((p) => [p.path, p.message]),
      [['kafka.alertTopic', 'length must be ≤ 249']],
    );
    const fine = { inputTopic: 'plant_1.readings-v2', alertTopic: 'a'.repeat(249) };
    assert.equal(loadConfig({ env: {}, flags: { kafka: fine } }).kafka.alertTopic.length, 249);
  });

  it('reports unknown keys in the file with a did-you-mean, at top level and in a section', () => {
    const file = yamlFile('widow:\n  size: 3\nkafka:\n  bokers: [a]\n  zzzzzz: 1\n');
    const problems = problemsOf({ configFile: file, env: {} });
    const byPath = new Map(problems.map((p) => [p.path, p.message]));
    assert.equal(byPath.get('widow'), 'unknown section; did you mean "window"?');
    assert.equal(byPath.get('kafka.bokers'), 'unknown setting in kafka; did you mean "brokers"?');
    assert.equal(byPath.get('kafka.zzzzzz'), 'unknown setting in kafka');
  });

  it('reports a misspelt TSAD_<SECTION>_ variable with the closest name', () => {
    const [problem] = problemsOf({ env: { TSAD_WINDOW_SIZ: '3' } });
    assert.equal(problem?.path, 'TSAD_WINDOW_SIZ');
    assert.equal(problem?.message, 'unknown environment variable; did you mean TSAD_WINDOW_SIZE?');
  });

  it('checks every cross-field rule', () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ window: { size: 8, stride: 9 } }, 'window.stride', /at most window.size \(8\)/],
      [
        { kafka: { heartbeatIntervalMs: 5000, sessionTimeoutMs: 5000 } },
        'kafka.heartbeatIntervalMs',
        /below kafka.sessionTimeoutMs/,
      ],
      [{ alerts: { confirmK: 6, confirmN: 5 } }, 'alerts.confirmK', /at most alerts.confirmN/],
      [
        { batching: { highWaterMark: 10, maxBatchSize: 64 } },
        'batching.highWaterMark',
        /at least batching.maxBatchSize/,
      ],
      [
        { influx: { maxQueue: 10, batchSize: 500 } },
        'influx.maxQueue',
        /at least influx.batchSize/,
      ],
      [
        { kafka: { sasl: { mechanism: 'plain', password: 'p' } } },
        'kafka.sasl.username',
        /required when kafka.sasl.mechanism is plain/,
      ],
      [
        { kafka: { sasl: { mechanism: 'scram-sha-256', username: 'u' } } },
        'kafka.sasl.password',
        /required/,
      ],
      [{ kafka: { deadLetterTopic: 'in', inputTopic: 'in' } }, 'kafka.deadLetterTopic', /differ/],
      [{ kafka: { alertTopic: 'sensor-readings' } }, 'kafka.alertTopic', /differ/],
      [{ kafka: { inputTopic: 'a'.repeat(246) } }, 'kafka.inputTopic', /derived <inputTopic>.dlq/],
      [
        { threshold: { rolling: { warmup: 100, window: 50 } } },
        'threshold.rolling.warmup',
        /at most threshold.rolling.window/,
      ],
      [
        { threshold: { telemanom: { warmup: 100, window: 50 } } },
        'threshold.telemanom.warmup',
        /at most threshold.telemanom.window/,
      ],
      [
        { threshold: { telemanom: { zMin: 5, zMax: 5 } } },
        'threshold.telemanom.zMin',
        /below threshold.telemanom.zMax/,
      ],
      [
        { input: { channels: ['temp', 'vibration'] } },
        'input.channels',
        /simulator.channels \(\[temp, vibration, pressure\]\) in embedded mode/,
      ],
      [
        { retraining: { intervalMs: 0, drift: { enabled: false } } },
        'retraining.enabled',
        /nothing triggers a retraining/,
      ],
    ];
    for (const [flags, path, message] of cases) {
      const problems = problemsOf({ env: {}, flags });
      assert.equal(problems.length, 1, `${path}: ${JSON.stringify(problems)}`);
      assert.equal(problems[0]?.path, path);
      assert.match(problems[0]?.message ?? '', message);
    }
  });

  it("takes input.channels in embedded mode when they are the simulator's, in any order, and any with Kafka", () => {
    const embedded = { input: { channels: ['pressure', 'temp', 'vibration'] } };
    assert.deepEqual(problemsOf({ env: {}, flags: embedded }), []);
    const kafka = { input: { channels: ['temp'] }, kafka: { brokers: ['localhost:9092'] } };
    assert.deepEqual(problemsOf({ env: {}, flags: kafka }), []);
  });

  it('skips a cross-field rule whose own fields are invalid (the field error says it)', () => {
    const problems = problemsOf({ env: {}, flags: { window: { size: 'x', stride: 5 } } });
    assert.deepEqual(
      problems.map((p) => p.path),
      ['window.size'],
    );
  });

  it('reports several problems from several sources at once in one TsadError', () => {
    const file = yamlFile('kafka:\n  bokers: [a]\nalerts:\n  confirmK: 9\n');
    try {
      loadConfig({
        configFile: file,
        env: { TSAD_WINDOW_STRIDE: '64' },
        flags: { log: { level: 'loud' } },
      });
      assert.fail('expected an error');
    } catch (error) {
      assert.ok(isTsadError(error, 'TSAD_ERR_CONFIG_INVALID'));
      const lines = error.message.split('\n');
      assert.equal(lines[0], 'invalid configuration (4 problems):');
      assert.ok(lines.some((l) => l.includes('kafka.bokers') && l.includes(`from file ${file}`)));
      assert.ok(lines.some((l) => l.includes('window.stride = 64 (from env TSAD_WINDOW_STRIDE)')));
      assert.ok(lines.some((l) => l.includes('alerts.confirmK = 9')));
      assert.ok(lines.some((l) => l.includes('log.level = "loud" (from flag)')));
    }
  });

  it('masks secret values in problem reports', () => {
    const [problem] = problemsOf({ env: {}, flags: { influx: { password: 42 } } });
    assert.equal(problem?.path, 'influx.password');
    assert.equal(problem?.value, '***');
  });

  it('fails with TSAD_ERR_CONFIG_INVALID on a missing file, bad YAML or a non-mapping file', () => {
    for (const file of [
      path.join(dir, 'missing.yaml'),
      yamlFile('window:\n  size: [1\n'),
      yamlFile('- a\n- b\n'),
    ]) {
      assert.throws(
        () => loadConfig({ configFile: file, env: {} }),
        (error) => isTsadError(error, 'TSAD_ERR_CONFIG_INVALID') && error.message.includes(file),
      );
    }
  });
});

describe('settings list', () => {
  it('names every environment variable TSAD_<SECTION>_<FIELD> in upper snake case', () => {
    const byPath = new Map(SETTINGS.map((s) => [s.path, s.envVar]));
    assert.equal(byPath.get('window.size'), 'TSAD_WINDOW_SIZE');
    assert.equal(byPath.get('kafka.inputTopic'), 'TSAD_KAFKA_INPUT_TOPIC');
    assert.equal(byPath.get('kafka.sasl.password'), 'TSAD_KAFKA_SASL_PASSWORD');
    assert.equal(new Set(byPath.values()).size, SETTINGS.length, 'env names are unique');
  });

  it('can set every setting from the environment to its own default', () => {
    const env: Record<string, string> = {};
    for (const s of SETTINGS) {
      if (s.defaultValue === undefined) continue;
      env[s.envVar] = Array.isArray(s.defaultValue)
        ? s.defaultValue.join(',')
        : typeof s.defaultValue === 'object'
          ? JSON.stringify(s.defaultValue)
          : String(s.defaultValue);
    }
    const { problems } = resolveConfig({ env });
    assert.deepEqual(problems, []);
  });
});
