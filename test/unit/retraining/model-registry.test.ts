import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fsPromises } from 'node:fs';
import {
  appendFile,
  cp,
  mkdir,
  readdir,
  readFile,
  rm,
  stat,
  utimes,
  writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, mock, test } from 'node:test';
import { initBackend } from '../../../src/model/backend.ts';
import { openModelRegistry, type RegistryListing } from '../../../src/model/registry.ts';
import { processStartTick, removeStaleLock } from '../../../src/model/registry-lock.ts';
import { trainAutoencoder } from '../../../src/model/train.ts';
import { windowsFromSeries } from '../../../src/model/windows.ts';
import { tempDir } from '../../harness/temp-dir.ts';
import { periodicSeries } from '../model/fixtures.ts';

let dir = '';
before(async () => {
  await initBackend();
  dir = tempDir('tsad-registry-');
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

  const { versions: listed, unreadable } = await registry.list();
  assert.deepEqual(unreadable, []);
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
  const history = await reopened.history();
  assert.deepEqual(
    history.events.map((e) => e.event),
    ['registered', 'promoted', 'registered', 'rejected'],
  );
  assert.deepEqual(history.unreadable, []);
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
  const { versions: listed } = await registry.list();
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
  assert.deepEqual(await created.list(), { versions: [], unreadable: [] });
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

test('an ACTIVE file naming a path out of the registry is refused, not followed', async () => {
  const root = path.join(dir, 'escape');
  const registry = await openModelRegistry(path.join(root, 'registry'), 2, { create: true });
  const outside = path.join(root, 'outside');
  await (await tinyModel(5)).save(outside);
  await writeFile(path.join(root, 'registry', 'ACTIVE'), '../outside\n');
  for (const read of [() => registry.activeVersion(), () => registry.loadActive()]) {
    await assert.rejects(read(), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'TSAD_ERR_MODEL_CORRUPT');
      assert.match(e.message, /ACTIVE names "\.\.\/outside", which is not a version directory/);
      return true;
    });
  }
  await rm(root, { recursive: true });
});

test('corrupt and foreign entries are listed as unreadable, reported by retention and never removed', async () => {
  const root = path.join(dir, 'with-strays');
  const reported: string[] = [];
  const registry = await openModelRegistry(root, 2, {
    create: true,
    onUnreadable: (entry) => reported.push(path.relative(root, entry.file)),
  });
  const first = await tinyModel(6);
  await registry.register(first);
  await registry.activate(first.version);
  await mkdir(path.join(root, 'broken'));
  await writeFile(path.join(root, 'broken', 'metadata.json'), '{');
  await mkdir(path.join(root, 'foreign'));
  await writeFile(path.join(root, 'foreign', 'metadata.json'), '{}');
  await mkdir(path.join(root, 'lost+found'));
  // A valid model under a name that is not its version: a copy someone made.
  await cp(path.join(root, first.version), path.join(root, 'backup'), { recursive: true });

  const { versions, unreadable } = await registry.list();
  assert.deepEqual(
    versions.map((e) => e.version),
    [first.version],
  );
  const reasons = Object.fromEntries(
    unreadable.map((e) => [path.relative(root, e.file), e.reason]),
  );
  assert.deepEqual(Object.keys(reasons).sort(), [
    'backup/metadata.json',
    'broken/metadata.json',
    'foreign/metadata.json',
    'lost+found/metadata.json',
  ]);
  assert.match(reasons['broken/metadata.json']!, /^not valid JSON/);
  assert.match(reasons['foreign/metadata.json']!, /^not tsad model metadata \(formatVersion: /);
  assert.match(reasons['lost+found/metadata.json']!, /^missing/);
  assert.match(reasons['backup/metadata.json']!, /does not match its directory name/);

  // Retention goes on past them (two more versions, keep 2) and deletes none of them.
  for (const seed of [7, 8]) {
    const model = await tinyModel(seed);
    await registry.register(model);
    await registry.recordRejection(model.version, 'test');
    model.dispose();
  }
  const after = await registry.list();
  assert.equal(after.versions.length, 2);
  assert.equal(after.unreadable.length, 4);
  assert.equal(await readFile(path.join(root, 'broken', 'metadata.json'), 'utf8'), '{');
  assert.deepEqual([...new Set(reported)].sort(), Object.keys(reasons).sort());

  await assert.rejects(registry.activate('broken'), {
    code: 'TSAD_ERR_MODEL_CORRUPT',
    message: new RegExp(
      `^cannot activate version broken: ${root}/broken/metadata.json: not valid JSON`,
    ),
  });
  first.dispose();
});

test('a history line that is not an event is skipped and reported with its line number', async () => {
  const root = path.join(dir, 'bad-history');
  await mkdir(root);
  const file = path.join(root, 'history.jsonl');
  const event = { at: '2026-01-01T00:00:00.000Z', version: 'v1', event: 'registered' };
  await writeFile(file, `${JSON.stringify(event)}\ngarbage\n\n{"version":"v1"}\n`);
  await appendFile(file, `${JSON.stringify({ ...event, event: 'promoted' })}\n`);
  const history = await (await openModelRegistry(root)).history();
  assert.deepEqual(
    history.events.map((e) => e.event),
    ['registered', 'promoted'],
  );
  assert.equal(history.unreadable.length, 2);
  assert.deepEqual(
    history.unreadable.map((u) => [u.file, u.line]),
    [
      [file, 2],
      [file, 4],
    ],
  );
  assert.match(history.unreadable[0]!.reason, /^not valid JSON \(Unexpected token/);
  assert.match(history.unreadable[1]!.reason, /^not a registry event \(at: /);
});

test('a registry file that cannot be read is an error naming it', async () => {
  const root = path.join(dir, 'active-is-a-directory');
  await mkdir(path.join(root, 'ACTIVE'), { recursive: true });
  await assert.rejects((await openModelRegistry(root)).activeVersion(), {
    code: 'TSAD_ERR_MODEL_CORRUPT',
    message: new RegExp(`^cannot read ${path.join(root, 'ACTIVE')}: EISDIR`),
  });
});

test('a save in progress is not listed, not even as unreadable, and leaves nothing behind', async () => {
  const root = path.join(dir, 'saving');
  const registry = await openModelRegistry(root, 2, { create: true });
  const model = await tinyModel(9);
  // Pauses the real save as it writes weights.bin, to look at the registry then.
  const writeFile = fsPromises.writeFile;
  let during: { listing: RegistryListing; names: string[] } | undefined;
  mock.method(fsPromises, 'writeFile', async (...args: Parameters<typeof writeFile>) => {
    if (during === undefined && String(args[0]).endsWith('weights.bin')) {
      during = { listing: await registry.list(), names: await readdir(root) };
    }
    return writeFile(...args);
  });
  try {
    await registry.register(model);
  } finally {
    mock.restoreAll();
  }
  assert.ok(during, 'the save wrote weights.bin');
  assert.equal(during.names.length, 1, `the save's staging directory: ${during.names}`);
  assert.deepEqual(during.listing, { versions: [], unreadable: [] });
  assert.deepEqual((await readdir(root)).sort(), [model.version, 'history.jsonl']);
  model.dispose();
});

test('retention removes rejected candidates before versions that were once promoted', async () => {
  const root = path.join(dir, 'rejections-in-a-row');
  const registry = await openModelRegistry(root, 2, { create: true });
  const promoted: string[] = [];
  for (const seed of [10, 11]) {
    const model = await tinyModel(seed);
    await registry.register(model);
    await registry.activate(model.version);
    promoted.push(model.version);
    model.dispose();
  }
  for (const seed of [12, 13, 14]) {
    const model = await tinyModel(seed);
    await registry.register(model);
    await registry.recordRejection(model.version, 'worse on held-out normal windows');
    model.dispose();
  }
  const { versions } = await registry.list();
  // The active one and the one before it to roll back to; the rejected ones went first.
  assert.deepEqual(
    versions.map((e) => [e.version, e.active]),
    [
      [promoted[1], true],
      [promoted[0], false],
    ],
  );
});

test('an exclusive registry is refused to a second daemon, naming it and its holder, until closed', async () => {
  const root = path.join(dir, 'locked');
  const first = await openModelRegistry(root, 2, { create: true, exclusive: true });
  const lockFile = path.join(root, 'LOCK');
  const holder = JSON.parse(await readFile(lockFile, 'utf8')) as Record<string, unknown>;
  assert.equal(holder.pid, process.pid);
  assert.equal(holder.hostname, os.hostname());
  await assert.rejects(openModelRegistry(root, 2, { create: true, exclusive: true }), {
    code: 'TSAD_ERR_CONFIG_INVALID',
    message:
      `model registry ${root} is in use by another daemon of this process: pid ${process.pid} ` +
      `on host ${os.hostname()}, since ${holder.startedAt} (${lockFile}): ` +
      'each tsad daemon needs its own model.registryDir',
  });
  // Reading needs no lock, and the lock is no entry.
  assert.deepEqual(await (await openModelRegistry(root)).list(), { versions: [], unreadable: [] });

  await first.close();
  await first.close();
  await assert.rejects(stat(lockFile), { code: 'ENOENT' });
  const second = await openModelRegistry(root, 2, { exclusive: true });
  await second.close();
});

test('a lock of a live process or another host is refused; one of a dead process on this host is taken over', async () => {
  const root = path.join(dir, 'stale-locks');
  await mkdir(root);
  const lockFile = path.join(root, 'LOCK');
  const lock = (pid: number, hostname = os.hostname()) =>
    writeFile(
      lockFile,
      `${JSON.stringify({ pid, hostname, startedAt: '2026-01-01T00:00:00.000Z' })}\n`,
    );
  const open = (onStaleLock?: (stale: { pid: number } | undefined) => void) =>
    openModelRegistry(root, 2, { exclusive: true, ...(onStaleLock ? { onStaleLock } : {}) });

  // The test runner that started this file is alive.
  await lock(process.ppid);
  await assert.rejects(open(), {
    code: 'TSAD_ERR_CONFIG_INVALID',
    message: new RegExp(
      `^model registry ${root} is in use by another daemon: pid ${process.ppid} on host .*: ` +
        `each tsad daemon needs its own model\\.registryDir; if pid ${process.ppid} is not a tsad daemon, delete ${lockFile}$`,
    ),
  });

  await lock(process.ppid, 'elsewhere.example');
  await assert.rejects(open(), {
    code: 'TSAD_ERR_CONFIG_INVALID',
    message: new RegExp(
      `^model registry ${root} is locked by pid ${process.ppid} on host elsewhere\\.example, .*another host: ` +
        `each tsad daemon needs its own model\\.registryDir; if that daemon is no longer running, delete ${lockFile}$`,
    ),
  });

  await writeFile(lockFile, '');
  await assert.rejects(open(), {
    code: 'TSAD_ERR_CONFIG_INVALID',
    message: new RegExp(
      `^model registry ${root} is locked by ${lockFile}, which does not say by whom`,
    ),
  });

  // A process that has exited, and an earlier process with this pid (a restarted container's pid 1).
  const dead = spawnSync(process.execPath, ['-e', '']).pid;
  for (const pid of [dead, process.pid]) {
    await lock(pid);
    const taken: number[] = [];
    const registry = await open((stale) => taken.push(stale?.pid ?? 0));
    assert.deepEqual(taken, [pid]);
    assert.equal(JSON.parse(await readFile(lockFile, 'utf8')).pid, process.pid);
    await registry.close();
  }
});

test('a lock of a live pid is taken over when it names an earlier boot or another start of that pid; an empty one once it is old', async (t) => {
  const bootId = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => '')).trim();
  if (bootId === '') {
    t.skip('needs Linux /proc');
    return;
  }
  const root = path.join(dir, 'reused-pids');
  await mkdir(root);
  const lockFile = path.join(root, 'LOCK');
  const parentStart = await processStartTick(process.ppid);
  assert.match(parentStart ?? '', /^\d+$/);
  const lock = (fields: Record<string, unknown>) =>
    writeFile(
      lockFile,
      `${JSON.stringify({ pid: process.ppid, hostname: os.hostname(), startedAt: '2026-01-01T00:00:00.000Z', ...fields })}\n`,
    );
  const open = (taken: unknown[] = []) =>
    openModelRegistry(root, 2, { exclusive: true, onStaleLock: (stale) => taken.push(stale) });
  const inUse = { code: 'TSAD_ERR_CONFIG_INVALID', message: /is in use by another daemon: pid/ };

  // The holder as the lock says it: this boot, and the start tick of this process.
  const mine = await open();
  const written = JSON.parse(await readFile(lockFile, 'utf8'));
  assert.equal(written.bootId, bootId);
  assert.equal(written.processStart, await processStartTick(process.pid));
  await mine.close();

  // The test runner that started this file, as it is: refused.
  await lock({ bootId, processStart: parentStart });
  await assert.rejects(open(), inUse);
  // An older lock without the two fields: the pid alone decides, as before.
  await lock({});
  await assert.rejects(open(), inUse);

  // The same pid started at another tick (reused after the holder died), or in an earlier boot.
  for (const fields of [
    { bootId, processStart: String(Number(parentStart) + 1) },
    { bootId: '00000000-0000-0000-0000-000000000000', processStart: parentStart },
  ]) {
    await lock(fields);
    const taken: unknown[] = [];
    const registry = await open(taken);
    assert.equal(taken.length, 1);
    assert.equal(JSON.parse(await readFile(lockFile, 'utf8')).pid, process.pid);
    await registry.close();
  }

  // Empty: a holder between creating and writing it, refused; seconds old, one that crashed there.
  await writeFile(lockFile, '');
  await assert.rejects(open(), {
    code: 'TSAD_ERR_CONFIG_INVALID',
    message: /which does not say by whom/,
  });
  const past = new Date(Date.now() - 60_000);
  await utimes(lockFile, past, past);
  const taken: unknown[] = [];
  const registry = await open(taken);
  assert.deepEqual(taken, [undefined]);
  assert.equal(JSON.parse(await readFile(lockFile, 'utf8')).pid, process.pid);
  await registry.close();
  assert.deepEqual(await readdir(root), []);
});

test('taking over a stale lock that another daemon took over first puts that one back', async () => {
  const root = path.join(dir, 'takeover-race');
  await mkdir(root);
  const lockFile = path.join(root, 'LOCK');
  const stale = `${JSON.stringify({ pid: 1, hostname: 'h', startedAt: 'then' })}\n`;
  const fresh = `${JSON.stringify({ pid: 2, hostname: 'h', startedAt: 'now' })}\n`;
  // Read as stale, but replaced by the other daemon's fresh lock before this one removes it.
  await writeFile(lockFile, fresh);
  await removeStaleLock(lockFile, stale);
  assert.equal(await readFile(lockFile, 'utf8'), fresh);
  // The stale one itself is removed; one already gone is no error.
  await writeFile(lockFile, stale);
  await removeStaleLock(lockFile, stale);
  await removeStaleLock(lockFile, stale);
  assert.deepEqual(await readdir(root), []);
});

test('an exclusive open removes what saves of processes that are gone left behind, nothing else', async () => {
  const root = path.join(dir, 'leftovers');
  await mkdir(root);
  const dead = spawnSync(process.execPath, ['-e', '']).pid;
  const version = '20260101T000000Z-0123abcd';
  // As a registry save names them: the registry's staging, within it the model's, the ACTIVE file's.
  const removed = [
    `${version}.tmp-${dead}-0a1b2c3d`,
    `${version}.tmp-${dead}-0a1b2c3d.tmp-${dead}-4e5f6a7b`,
    // An earlier process with this pid (a restarted container's pid 1).
    `${version}.tmp-${process.pid}-99aabbcc`,
  ];
  const kept = [`${version}.tmp-${process.ppid}-55667788`, 'broken'];
  for (const name of [...removed, ...kept]) {
    await mkdir(path.join(root, name));
    await writeFile(path.join(root, name, 'model.json'), '{');
  }
  await writeFile(path.join(root, `ACTIVE.tmp-${dead}-11223344`), 'x\n');
  removed.push(`ACTIVE.tmp-${dead}-11223344`);
  const all = [...removed, ...kept].sort();

  // Reading removes nothing.
  await (await openModelRegistry(root)).list();
  assert.deepEqual((await readdir(root)).sort(), all);

  const reported: string[] = [];
  const registry = await openModelRegistry(root, 2, {
    exclusive: true,
    onLeftoverRemoved: (file) => reported.push(path.basename(file)),
  });
  assert.deepEqual(reported.sort(), removed.sort());
  assert.deepEqual((await readdir(root)).sort(), ['LOCK', ...kept].sort());
  await registry.close();
});
