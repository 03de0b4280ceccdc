import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import {
  DEFAULT_NAB_CONFIG,
  DEFAULT_SKAB_CONFIG,
  nabConfigSchema,
  readBacktestConfig,
  skabConfigSchema,
} from '../../../src/cli/backtest/backtest-config.ts';
import { runCli } from '../../../src/cli/cli.ts';
import { isTsadError } from '../../../src/errors.ts';
import { tempDir } from '../../harness/temp-dir.ts';

let dir: string;
before(() => {
  dir = tempDir('tsad-backtest-config-');
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

let files = 0;
function configFile(text: string): string {
  const file = path.join(dir, `config-${files++}.yaml`);
  fs.writeFileSync(file, text);
  return file;
}

/** The lines of the TSAD_ERR_CONFIG_INVALID that reading `text` throws. */
function problemsOf(text: string): string[] {
  try {
    readBacktestConfig(configFile(text));
  } catch (error) {
    assert.ok(isTsadError(error, 'TSAD_ERR_CONFIG_INVALID'), String(error));
    return error.message.split('\n').slice(1);
  }
  assert.fail('expected the config to be refused');
}

describe('backtest configuration', () => {
  test('the defaults read as before and pass the schemas unchanged', () => {
    const defaults = { nab: DEFAULT_NAB_CONFIG, skab: DEFAULT_SKAB_CONFIG };
    assert.deepEqual(readBacktestConfig(undefined), defaults);
    assert.deepEqual(readBacktestConfig(configFile('nab: {}\nskab:\n')), defaults);
    assert.deepEqual(nabConfigSchema.parse(DEFAULT_NAB_CONFIG), DEFAULT_NAB_CONFIG);
    assert.deepEqual(skabConfigSchema.parse(DEFAULT_SKAB_CONFIG), DEFAULT_SKAB_CONFIG);
  });

  test('an empty or comment-only file gives the defaults, as an empty daemon config does', () => {
    const defaults = { nab: DEFAULT_NAB_CONFIG, skab: DEFAULT_SKAB_CONFIG };
    assert.deepEqual(readBacktestConfig(configFile('')), defaults);
    assert.deepEqual(readBacktestConfig(configFile('# nab:\n#   scoreBatch: 1024\n')), defaults);
  });

  test('merges a valid file over the defaults: model by field, other values whole', () => {
    const { nab, skab } = readBacktestConfig(
      configFile(
        'nab:\n  model: { windowSize: 64 }\n  threshold: { method: dspot }\n  seasonal: null\n' +
          'skab:\n  changepoints: { source: flags }\n',
      ),
    );
    assert.deepEqual(nab.model, { ...DEFAULT_NAB_CONFIG.model, windowSize: 64 });
    assert.deepEqual(nab.threshold, { method: 'dspot' });
    assert.equal(nab.seasonal, null);
    assert.equal(nab.rankGuard, 63);
    assert.deepEqual(skab.changepoints, { source: 'flags' });
  });

  test('names every unknown key with its full path and the key it was likely meant as', () => {
    const lines = problemsOf(
      'nab:\n  modle: { windowSize: 16 }\n  model: { windowsize: 16 }\n  suppresFraction: 0.2\n' +
        'benchmark: nab\n',
    );
    assert.equal(lines.length, 4, lines.join('\n'));
    for (const [key, guess] of [
      ['nab.modle', 'model'],
      ['nab.model.windowsize', 'windowSize'],
      ['nab.suppresFraction', 'suppressFraction'],
    ]) {
      assert.ok(
        lines.some((l) => l.includes(`- ${key} `) && l.includes(`did you mean "${guess}"`)),
        `${key}:\n${lines.join('\n')}`,
      );
    }
    assert.ok(lines.some((l) => l.includes('- benchmark ')));
  });

  test('reports every wrong value at once, with its path and the file', () => {
    const file = configFile(
      'skab:\n  model: { windowSize: -4 }\n  threshold: { method: nope }\n  scoreBatch: 0\n' +
        'nab:\n  threshold: { method: spot, q: 2 }\n  seasonal: { minAcf: 0.4 }\n' +
        '  retraining: { growth: 1, maxWindows: 100 }\n',
    );
    assert.throws(
      () => readBacktestConfig(file),
      (error: Error) => {
        const lines = error.message.split('\n').slice(1);
        for (const key of [
          'skab.model.windowSize = -4',
          'skab.threshold.method = "nope"',
          'skab.scoreBatch = 0',
          'nab.threshold.q = 2',
          'nab.seasonal.slack',
          'nab.seasonal.smooth',
          'nab.retraining.growth = 1',
        ]) {
          assert.ok(
            lines.some((l) => l.startsWith(`  - ${key}`)),
            `${key}:\n${lines.join('\n')}`,
          );
        }
        assert.equal(lines.length, 7, lines.join('\n'));
        assert.match(error.message, new RegExp(`\\(from file ${file}\\)`));
        return true;
      },
    );
    const one = configFile('skab:\n  threshold: { method: nope }\n');
    assert.throws(() => readBacktestConfig(one), {
      message:
        'invalid configuration (1 problem):\n' +
        `  - skab.threshold.method = "nope" (from file ${one}): ` +
        'expected one of "spot", "dspot", "rolling", "telemanom"',
    });
  });

  test('tsad backtest refuses a bad config with exit code 2 and one line per wrong field', async () => {
    let stderr = '';
    const err = new Writable({
      write(chunk, _encoding, done) {
        stderr += String(chunk);
        done();
      },
    });
    const file = configFile('skab:\n  scoreBatch: 0\n  suppresFraction: 0.2\n');
    const code = await runCli(
      ['backtest', '--benchmark', 'skab', '--input', dir, '--out', dir, '--config', file],
      { stderr: err, stdout: err },
    );
    assert.equal(code, 2, stderr);
    assert.match(stderr, /^tsad: invalid configuration \(2 problems\):\n/);
    assert.match(stderr, /\n {2}- skab\.scoreBatch = 0 \(from file .*\): must be ≥ 1\n/);
    assert.match(stderr, /\n {2}- skab\.suppresFraction \(from file .*\): unknown setting in skab/);
  });
});
