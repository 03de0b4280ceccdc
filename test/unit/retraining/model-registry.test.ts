import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { initBackend } from '../../../src/model/backend.ts';
import { openModelRegistry } from '../../../src/model/registry.ts';
import { trainAutoencoder } from '../../../src/model/train.ts';
import { windowsFromSeries } from '../../../src/model/windows.ts';
import { periodicSeries } from '../model/fixtures.ts';

let dir = '';
before(async () => {
  await initBackend();
  dir = await mkdtemp(path.join(os.tmpdir(), 'tsad-registry-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function tinyModel(seed: number) {
  const windows = windowsFromSeries(periodicSeries(120, { seed }), 1, 8);
  return trainAutoencoder(windows, {
    windowSize: 8,
    hiddenUnits: [4],
    codeSize: 2,
    maxEpochs: 2,
    batchSize: 32,
    seed,
  });
}

test('the registry keeps versions, marks one active, and a reopened registry loads it', async () => {
  const registry = await openModelRegistry(dir, 2);
  assert.equal(await registry.activeVersion(), null);
  assert.equal(await registry.loadActive(), null);

  const first = await tinyModel(1);
  await registry.register(first);
  await registry.activate(first.version, { trigger: 'cold-start' });
  const second = await tinyModel(2);
  await registry.register(second);
  await registry.recordRejection(second.version, 'worse on held-out normal windows');

  const listed = await registry.list();
  assert.deepEqual(
    listed.map((e) => [e.version, e.active]).sort(),
    [
      [first.version, true],
      [second.version, false],
    ].sort(),
  );
  assert.equal(listed.find((e) => e.active)?.windowSize, 8);

  const reopened = await openModelRegistry(dir, 2);
  const loaded = await reopened.loadActive({ windowSize: 8, channels: ['value'] });
  assert.equal(loaded?.version, first.version);
  const history = (await reopened.history()).map((e) => e.event);
  assert.deepEqual(history, ['registered', 'promoted', 'registered', 'rejected']);
  for (const m of [first, second, loaded!]) m.dispose();
});

test('retention removes the oldest inactive versions but never the active one', async () => {
  const registry = await openModelRegistry(dir, 2);
  const active = await registry.activeVersion();
  assert.ok(active);
  for (const seed of [3, 4, 5]) {
    const model = await tinyModel(seed);
    await registry.register(model);
    await registry.recordRejection(model.version, 'test');
    model.dispose();
  }
  const listed = await registry.list();
  assert.equal(listed.length, 2, JSON.stringify(listed));
  assert.ok(listed.some((e) => e.active && e.version === active));
  const dirs = (await readdir(dir)).filter((f) => !/ACTIVE|history/.test(f));
  assert.equal(dirs.length, 2, dirs.join(','));
});

test('activating an unknown version is refused with TSAD_ERR_MODEL_NOT_FOUND', async () => {
  const registry = await openModelRegistry(dir, 2);
  await assert.rejects(registry.activate('20990101T000000Z-deadbeef'), {
    code: 'TSAD_ERR_MODEL_NOT_FOUND',
  });
});

test('opening a missing registry is refused and creates nothing, unless asked to create it', async () => {
  const missing = path.join(dir, 'typo', 'models');
  await assert.rejects(openModelRegistry(missing), {
    code: 'TSAD_ERR_INPUT_INVALID',
    message: `model registry ${missing} does not exist`,
  });
  await assert.rejects(stat(path.join(dir, 'typo')), { code: 'ENOENT' });

  const created = await openModelRegistry(missing, 2, { create: true });
  assert.ok((await stat(missing)).isDirectory());
  assert.deepEqual(await created.list(), []);
  await rm(path.join(dir, 'typo'), { recursive: true });
});

test('a registry path that is a regular file is refused as not a directory', async () => {
  const file = path.join(dir, 'file.txt');
  await writeFile(file, '');
  for (const create of [false, true]) {
    await assert.rejects(openModelRegistry(file, 2, { create }), {
      code: 'TSAD_ERR_INPUT_INVALID',
      message: `model registry ${file} is not a directory`,
    });
  }
  await rm(file);
});
