import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EXIT } from '../../../src/cli/cli.ts';
import { tempDir } from '../../harness/temp-dir.ts';
import { tsad } from './run-tsad.ts';

let dir: string;

/** A metadata.json that passes the schema; listing reads nothing else. */
function metadata(version: string, createdAt: string) {
  return {
    formatVersion: 1,
    version,
    createdAt,
    config: {
      windowSize: 8,
      hiddenUnits: [4],
      codeSize: 2,
      dropout: 0,
      learningRate: 0.005,
      batchSize: 32,
      maxEpochs: 2,
      patience: 5,
      validationFraction: 0.1,
      seed: 1,
    },
    channels: ['temp'],
    normalisation: { method: 'median-iqr', center: [0], scale: [1] },
    training: {
      windows: 100,
      trainWindows: 90,
      validationWindows: 10,
      windowsLeftOut: 0,
      validationSplit: 'last-fraction',
      channelStats: [],
      epochsRun: 2,
      bestEpoch: 1,
      bestLoss: 0.5,
      stoppedEarly: false,
      durationMs: 10,
      backend: 'cpu',
    },
    lossHistory: [{ epoch: 1, loss: 0.5, valLoss: 0.25 }],
    files: {},
  };
}

async function writeEntry(registry: string, name: string, text: string): Promise<void> {
  await fs.mkdir(path.join(registry, name), { recursive: true });
  await fs.writeFile(path.join(registry, name, 'metadata.json'), text);
}

before(async () => {
  dir = tempDir('tsad-models-cli-');
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('tsad models list', () => {
  test('a missing registry is an error and is not created', async () => {
    const missing = path.join(dir, 'typo');
    const r = await tsad('models', 'list', '--registry', missing);
    assert.equal(r.code, EXIT.failure, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      `tsad: model registry ${missing} does not exist (ENOENT: no such file or directory)\n`,
    );
    await assert.rejects(fs.stat(missing), { code: 'ENOENT' });
  });

  test('a registry path that is a regular file is refused as not a directory', async () => {
    const file = path.join(dir, 'not-a-registry.txt');
    await fs.writeFile(file, 'hello\n');
    const r = await tsad('models', 'list', '--registry', file);
    assert.equal(r.code, EXIT.failure, r.stderr);
    assert.equal(r.stderr, `tsad: model registry ${file} is not a directory\n`);
    assert.equal(await fs.readFile(file, 'utf8'), 'hello\n');
  });

  test('an empty registry lists no models', async () => {
    const empty = path.join(dir, 'empty');
    await fs.mkdir(empty);
    const r = await tsad('models', 'list', '--registry', empty);
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.equal(r.stdout, `no models in ${empty}\n`);
  });

  test('a corrupt or foreign entry is listed as unreadable with its file and reason; the others still list', async () => {
    const registry = path.join(dir, 'with-strays');
    const good = '20260101T000000Z-0123abcd';
    await writeEntry(registry, good, JSON.stringify(metadata(good, '2026-01-01T00:00:00.000Z')));
    await fs.writeFile(path.join(registry, 'ACTIVE'), `${good}\n`);
    await writeEntry(registry, 'broken', '{');
    await writeEntry(registry, 'empty', '{}');
    const r = await tsad('models', 'list', '--registry', registry);
    assert.equal(r.code, EXIT.ok, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[1]!, new RegExp(`^\\* +${good} .* 8 +temp +0\\.2500 +100$`));
    assert.equal(lines.length, 4, r.stdout);
    const broken = path.join(registry, 'broken', 'metadata.json');
    const empty = path.join(registry, 'empty', 'metadata.json');
    assert.match(r.stdout, new RegExp(`^unreadable, skipped: ${broken}: not valid JSON \\(`, 'm'));
    assert.match(
      r.stdout,
      new RegExp(`^unreadable, skipped: ${empty}: not tsad model metadata \\(formatVersion: `, 'm'),
    );

    const json = await tsad('models', 'list', '--registry', registry, '--json');
    const parsed = JSON.parse(json.stdout) as {
      versions: { version: string }[];
      unreadable: { file: string; reason: string }[];
    };
    assert.deepEqual(
      parsed.versions.map((v) => v.version),
      [good],
    );
    assert.deepEqual(parsed.unreadable.map((u) => u.file).sort(), [broken, empty]);
  });

  test('an ACTIVE naming a missing or unreadable version is reported as a problem with exit code 1', async () => {
    const registry = path.join(dir, 'dangling-active');
    const good = '20260101T000000Z-0123abcd';
    await writeEntry(registry, good, JSON.stringify(metadata(good, '2026-01-01T00:00:00.000Z')));
    await writeEntry(registry, 'broken', '{');
    const active = path.join(registry, 'ACTIVE');
    for (const [name, why] of [
      ['20250101T000000Z-gone0000', 'no such version'],
      ['broken', `${path.join(registry, 'broken', 'metadata.json')}: not valid JSON (`],
    ] as const) {
      await fs.writeFile(active, `${name}\n`);
      const problem = `${active} names ${name}, which is not a readable version of the registry (${why}`;
      const r = await tsad('models', 'list', '--registry', registry);
      assert.equal(r.code, EXIT.failure, r.stdout);
      const lines = r.stdout.split('\n');
      assert.match(lines[1]!, new RegExp(`^ +${good} `), 'the versions are still listed');
      assert.ok(lines[2]!.startsWith(`problem: ${problem}`), r.stdout);
      assert.match(lines[2]!, /; tsad run will not start with it$/);

      const json = await tsad('models', 'list', '--registry', registry, '--json');
      assert.equal(json.code, EXIT.failure, json.stdout);
      const parsed = JSON.parse(json.stdout) as { activeProblem: string | null };
      assert.ok(parsed.activeProblem?.startsWith(problem), json.stdout);
    }

    await fs.writeFile(active, `${good}\n`);
    const json = await tsad('models', 'list', '--registry', registry, '--json');
    assert.equal(json.code, EXIT.ok, json.stdout);
    assert.equal((JSON.parse(json.stdout) as { activeProblem: unknown }).activeProblem, null);
  });

  test('--history skips a line of history.jsonl that is not an event and reports its line number', async () => {
    const registry = path.join(dir, 'bad-history');
    await fs.mkdir(registry);
    const file = path.join(registry, 'history.jsonl');
    const event = { at: '2026-01-01T00:00:00.000Z', version: 'v1', event: 'registered' };
    await fs.writeFile(file, `garbage\n${JSON.stringify(event)}\n`);
    const r = await tsad('models', 'list', '--registry', registry, '--history');
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.equal(
      r.stdout,
      `no models in ${registry}\n` +
        `unreadable, skipped: ${file}:1: not valid JSON (Unexpected token 'g', "garbage" is not valid JSON)\n` +
        '2026-01-01T00:00:00.000Z  registered  v1\n',
    );
  });
});
