/**
 * The model registry: a directory holding one model directory per version,
 * and a file `ACTIVE` naming the version the daemon scores with. Writes are
 * atomic (write to a temporary name, then rename), so a crash never leaves a
 * half-written model marked active, and a restarted daemon loads the last
 * active model. Old versions beyond a retention limit are removed, candidates
 * never promoted before versions once promoted; the active one never is. An
 * entry that is not a readable tsad model (corrupt or foreign) is reported and
 * skipped, never removed. A daemon holds its registry alone (a LOCK file,
 * registry-lock.ts); reading needs no lock.
 */
import { promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { errorMessage, TsadError } from '../errors.ts';
import { type LoadExpectations, loadAutoencoder } from './load-autoencoder.ts';
import { describeIssues, readMetadataText } from './metadata.ts';
import { METADATA_JSON, stagingPath, stagingPid } from './persistence.ts';
import {
  isProcessAlive,
  type LockHolder,
  lockRegistry,
  type RegistryLock,
} from './registry-lock.ts';

const ACTIVE_FILE = 'ACTIVE';
const HISTORY_FILE = 'history.jsonl';

/** What the registry can store: a model that writes its own model directory. */
export interface SavableModel {
  readonly version: string;
  save(dir: string): Promise<void>;
}

/** True when `model` can be saved to a registry (an Autoencoder can). */
export function isSavableModel(model: unknown): model is SavableModel {
  return (
    typeof model === 'object' &&
    model !== null &&
    typeof (model as { version?: unknown }).version === 'string' &&
    typeof (model as { save?: unknown }).save === 'function'
  );
}

/** One version in the registry, as `tsad models list` shows it. */
export interface RegistryEntry {
  version: string;
  createdAt: string;
  active: boolean;
  windowSize: number;
  channels: string[];
  /** Best validation loss of its training, when recorded. */
  valLoss: number | null;
  trainingWindows: number | null;
}

/** A registry entry that is not a readable tsad model, or a bad history line: skipped, and why. */
export interface UnreadableEntry {
  /** The file that could not be read, e.g. `<registry>/<version>/metadata.json`. */
  file: string;
  /** The line of `file` (1-based), for a line of history.jsonl. */
  line?: number;
  reason: string;
}

/** The versions of a registry, and the entries skipped because they could not be read. */
export interface RegistryListing {
  /** Newest first. */
  versions: RegistryEntry[];
  unreadable: UnreadableEntry[];
  /**
   * Set when ACTIVE names a version that is missing or not a readable model
   * (then no entry is active): the daemon would not start with this registry.
   */
  activeProblem?: string;
}

/** Why a version was promoted or rejected, appended to history.jsonl. */
export interface RegistryEvent {
  at: string;
  version: string;
  event: 'registered' | 'promoted' | 'rejected' | 'removed';
  reason?: string;
  details?: Record<string, unknown>;
}

const registryEventSchema = z.object({
  at: z.string(),
  version: z.string(),
  event: z.enum(['registered', 'promoted', 'rejected', 'removed']),
  reason: z.string().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});

/** The promotion/rejection log, and the lines of it that could not be read. */
export interface RegistryHistory {
  /** Oldest first. */
  events: RegistryEvent[];
  unreadable: UnreadableEntry[];
}

/** A model registry rooted at one directory. */
export interface ModelRegistry {
  readonly dir: string;
  /** Saves a model as a new version (not active yet); returns its directory. */
  register(model: SavableModel): Promise<string>;
  /** Marks a registered version active, then applies the retention limit. */
  activate(version: string, details?: Record<string, unknown>): Promise<void>;
  /** Records that a candidate was rejected (kept for inspection until retention removes it). */
  recordRejection(
    version: string,
    reason: string,
    details?: Record<string, unknown>,
  ): Promise<void>;
  /** The active version, or null when none is marked. */
  activeVersion(): Promise<string | null>;
  /** Loads the active model, or null when the registry has none. */
  loadActive(
    expect?: LoadExpectations,
  ): Promise<Awaited<ReturnType<typeof loadAutoencoder>> | null>;
  /** Every version, newest first, and the entries that are not readable models. */
  list(): Promise<RegistryListing>;
  /** The promotion/rejection log, oldest first; lines that are not events are skipped, reported. */
  history(): Promise<RegistryHistory>;
  /** Releases the lock of a registry opened `exclusive`; nothing else to do otherwise. */
  close(): Promise<void>;
}

/** How a registry is opened. */
export interface RegistryOptions {
  /**
   * Create `dir` when it is missing (the daemon, which saves models). Off by
   * default, so a read-only command given a mistyped path reports it instead
   * of creating an empty registry there.
   */
  create?: boolean;
  /**
   * Hold the registry alone until close() (the daemon, which saves and
   * removes versions): takes its LOCK (src/model/registry-lock.ts), so a
   * second daemon on it fails to start, and removes what saves interrupted
   * by a crash left behind. Read-only commands leave it off.
   */
  exclusive?: boolean;
  /** Told of each unreadable entry that retention skips (the daemon logs them). */
  onUnreadable?: (entry: UnreadableEntry) => void;
  /** Told when an exclusive open takes over a lock left by a process that is gone (no holder: an empty LOCK). */
  onStaleLock?: (stale: LockHolder | undefined, file: string) => void;
  /** Told of each leftover of an interrupted save that an exclusive open removes. */
  onLeftoverRemoved?: (file: string) => void;
}

/**
 * Opens the registry in `dir`; keeps at most `keepVersions` versions. A
 * missing `dir` (unless `create` is set) or one that is not a directory is
 * TSAD_ERR_INPUT_INVALID naming the path; with `exclusive`, a registry
 * another daemon holds is TSAD_ERR_CONFIG_INVALID naming it and the holder.
 */
export async function openModelRegistry(
  dir: string,
  keepVersions = 5,
  options: RegistryOptions = {},
): Promise<ModelRegistry> {
  if (!Number.isInteger(keepVersions) || keepVersions < 1) {
    throw new TsadError('TSAD_ERR_CONFIG_INVALID', `keepVersions must be ≥ 1, got ${keepVersions}`);
  }
  await checkRegistryDirectory(dir, options.create ?? false);
  const lock: RegistryLock | undefined = options.exclusive
    ? await lockRegistry(dir, options.onStaleLock)
    : undefined;
  try {
    if (lock) await removeSaveLeftovers(dir, options.onLeftoverRemoved);
  } catch (error) {
    await lock?.release();
    throw error;
  }

  async function appendHistory(event: RegistryEvent): Promise<void> {
    await fs.appendFile(path.join(dir, HISTORY_FILE), `${JSON.stringify(event)}\n`);
  }

  async function activeVersion(): Promise<string | null> {
    const file = path.join(dir, ACTIVE_FILE);
    const name = (await readIfPresent(file))?.trim() ?? '';
    if (name === '') return null;
    // Only a name activate() can write: never a path out of the registry (`../x`).
    if (versionDirName(name) !== name || name === '.' || name === '..') {
      throw new TsadError(
        'TSAD_ERR_MODEL_CORRUPT',
        `${file} names ${JSON.stringify(name.slice(0, 100))}, which is not a version directory of the registry`,
      );
    }
    return name;
  }

  async function list(): Promise<RegistryListing> {
    const active = await activeVersion();
    const versions: RegistryEntry[] = [];
    const unreadable: UnreadableEntry[] = [];
    for (const name of await fs.readdir(dir)) {
      const read = await readEntry(dir, name, name === active);
      if (read === null) continue;
      if ('entry' in read) versions.push(read.entry);
      else unreadable.push(read.unreadable);
    }
    versions.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    if (active === null || versions.some((entry) => entry.active)) return { versions, unreadable };
    const skipped = unreadable.find((entry) => path.dirname(entry.file) === path.join(dir, active));
    const why = skipped ? `${skipped.file}: ${skipped.reason}` : 'no such version';
    const activeProblem = `${path.join(dir, ACTIVE_FILE)} names ${active}, which is not a readable version of the registry (${why})`;
    return { versions, unreadable, activeProblem };
  }

  async function history(): Promise<RegistryHistory> {
    const file = path.join(dir, HISTORY_FILE);
    const events: RegistryEvent[] = [];
    const unreadable: UnreadableEntry[] = [];
    const lines = ((await readIfPresent(file)) ?? '').split('\n');
    for (const [index, line] of lines.entries()) {
      if (line.trim() === '') continue;
      const reason = (text: string) => unreadable.push({ file, line: index + 1, reason: text });
      let json: unknown;
      try {
        json = JSON.parse(line);
      } catch (error) {
        reason(`not valid JSON (${errorMessage(error)})`);
        continue;
      }
      const parsed = registryEventSchema.safeParse(json);
      if (parsed.success) events.push(parsed.data as RegistryEvent);
      else reason(`not a registry event (${describeIssues(parsed.error)})`);
    }
    return { events, unreadable };
  }

  /**
   * Keeps the active version and `keepVersions - 1` others: versions that were
   * once promoted before candidates that never were (rejected ones), newest
   * first within each, so rejections in a row never push out the models to
   * roll back to.
   */
  async function applyRetention(): Promise<void> {
    const { versions: entries, unreadable } = await list();
    for (const entry of unreadable) options.onUnreadable?.(entry);
    const { events } = await history();
    const promoted = new Set(events.filter((e) => e.event === 'promoted').map((e) => e.version));
    const inactive = entries.filter((entry) => !entry.active);
    const byPreference = [
      ...inactive.filter((entry) => promoted.has(entry.version)),
      ...inactive.filter((entry) => !promoted.has(entry.version)),
    ];
    for (const entry of byPreference.slice(keepVersions - 1)) {
      await fs.rm(path.join(dir, versionDirName(entry.version)), { recursive: true, force: true });
      await appendHistory({
        at: new Date().toISOString(),
        version: entry.version,
        event: 'removed',
      });
    }
  }

  return {
    dir,
    async register(model) {
      const target = path.join(dir, versionDirName(model.version));
      // Saved under a staging name, which list() skips, then renamed into place.
      const staging = stagingPath(target, 'tmp');
      try {
        await model.save(staging);
        await fs.rm(target, { recursive: true, force: true });
        await fs.rename(staging, target);
      } catch (error) {
        await fs.rm(staging, { recursive: true, force: true });
        throw error;
      }
      await appendHistory({
        at: new Date().toISOString(),
        version: model.version,
        event: 'registered',
      });
      return target;
    },
    async activate(version, details) {
      const name = versionDirName(version);
      const read = await readEntry(dir, name, false);
      if (read === null) {
        throw new TsadError(
          'TSAD_ERR_MODEL_NOT_FOUND',
          `registry ${dir} has no version ${version}`,
        );
      }
      if ('unreadable' in read) {
        const { file, reason } = read.unreadable;
        throw new TsadError(
          'TSAD_ERR_MODEL_CORRUPT',
          `cannot activate version ${version}: ${file}: ${reason}`,
        );
      }
      const temp = stagingPath(path.join(dir, ACTIVE_FILE), 'tmp');
      await fs.writeFile(temp, `${name}\n`);
      await fs.rename(temp, path.join(dir, ACTIVE_FILE));
      await appendHistory({
        at: new Date().toISOString(),
        version,
        event: 'promoted',
        ...(details ? { details } : {}),
      });
      await applyRetention();
    },
    async recordRejection(version, reason, details) {
      await appendHistory({
        at: new Date().toISOString(),
        version,
        event: 'rejected',
        reason,
        ...(details ? { details } : {}),
      });
      await applyRetention();
    },
    activeVersion,
    async loadActive(expect) {
      const active = await activeVersion();
      return active === null ? null : loadAutoencoder(path.join(dir, active), expect);
    },
    list,
    history,
    close: async () => lock?.release(),
  };
}

async function checkRegistryDirectory(dir: string, create: boolean): Promise<void> {
  let stats: Stats;
  try {
    stats = await fs.stat(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
    if (!create) {
      throw new TsadError('TSAD_ERR_INPUT_INVALID', `model registry ${dir} does not exist`, {
        cause: error,
      });
    }
    await fs.mkdir(dir, { recursive: true });
    return;
  }
  if (!stats.isDirectory()) {
    throw new TsadError('TSAD_ERR_INPUT_INVALID', `model registry ${dir} is not a directory`);
  }
}

/**
 * Removes the staging directories (and temporary ACTIVE files) of saves whose
 * process is gone: a crash mid-save. Only under the registry's lock, so no
 * other daemon saves here, and one named by this process's pid is from an
 * earlier process that had it (pid 1 of a restarted container).
 */
async function removeSaveLeftovers(
  dir: string,
  onRemoved: ((file: string) => void) | undefined,
): Promise<void> {
  for (const name of await fs.readdir(dir)) {
    const pid = stagingPid(name);
    if (pid === null || (pid !== process.pid && isProcessAlive(pid))) continue;
    await fs.rm(path.join(dir, name), { recursive: true, force: true });
    onRemoved?.(path.join(dir, name));
  }
}

/** Versions become directory names; anything but [A-Za-z0-9._-] is replaced. */
function versionDirName(version: string): string {
  return version.replace(/[^A-Za-z0-9._-]/g, '_');
}

/**
 * Reads the version in `dir/name`: null when it is no version at all (a file
 * such as ACTIVE, a model being saved, a missing directory), the entry when
 * its metadata.json is valid model metadata of the version its name says, and
 * why not otherwise. Only what this accepts is ever removed by retention.
 */
async function readEntry(
  dir: string,
  name: string,
  active: boolean,
): Promise<{ entry: RegistryEntry } | { unreadable: UnreadableEntry } | null> {
  const versionDir = path.join(dir, name);
  const file = path.join(versionDir, METADATA_JSON);
  const unreadable = (reason: string) => ({ unreadable: { file, reason } });
  let stats: Stats;
  try {
    stats = await fs.stat(versionDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return unreadable(errorMessage(error));
  }
  if (!stats.isDirectory() || stagingPid(name) !== null) return null;
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return unreadable(code === 'ENOENT' ? 'missing: not a model directory' : errorMessage(error));
  }
  const read = readMetadataText(text);
  if (read.metadata === undefined) {
    return unreadable('json' in read ? `not tsad model metadata (${read.problem})` : read.problem);
  }
  const meta = read.metadata;
  // A copy under another name is not the registry's to remove or activate.
  if (versionDirName(meta.version) !== name) {
    return unreadable(`holds version ${meta.version}, which does not match its directory name`);
  }
  const best = meta.lossHistory
    .map((epoch) => epoch.valLoss)
    .filter((loss): loss is number => loss !== null);
  return {
    entry: {
      version: meta.version,
      createdAt: meta.createdAt,
      active,
      windowSize: meta.config.windowSize,
      channels: meta.channels,
      valLoss: best.length > 0 ? Math.min(...best) : null,
      trainingWindows: meta.training.windows,
    },
  };
}

/** The text of `file`, or null when it does not exist; other failures name the file. */
async function readIfPresent(file: string): Promise<string | null> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new TsadError('TSAD_ERR_MODEL_CORRUPT', `cannot read ${file}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
}
