/**
 * The model registry: a directory holding one model directory per version,
 * and a file `ACTIVE` naming the version the daemon scores with. Writes are
 * atomic (write to a temporary name, then rename), so a crash never leaves a
 * half-written model marked active, and a restarted daemon loads the last
 * active model. Old versions beyond a retention limit are removed; the active
 * one never is.
 */
import { promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import { TsadError } from '../errors.ts';
import { type LoadExpectations, loadAutoencoder } from './load-autoencoder.ts';
import { METADATA_JSON } from './persistence.ts';

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

/** Why a version was promoted or rejected, appended to history.jsonl. */
export interface RegistryEvent {
  at: string;
  version: string;
  event: 'registered' | 'promoted' | 'rejected' | 'removed';
  reason?: string;
  details?: Record<string, unknown>;
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
  /** Every version, newest first. */
  list(): Promise<RegistryEntry[]>;
  /** The promotion/rejection log, oldest first. */
  history(): Promise<RegistryEvent[]>;
}

/** How a registry is opened. */
export interface RegistryOptions {
  /**
   * Create `dir` when it is missing (the daemon, which saves models). Off by
   * default, so a read-only command given a mistyped path reports it instead
   * of creating an empty registry there.
   */
  create?: boolean;
}

/**
 * Opens the registry in `dir`; keeps at most `keepVersions` versions. A
 * missing `dir` (unless `create` is set) or one that is not a directory is
 * TSAD_ERR_INPUT_INVALID naming the path.
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

  async function appendHistory(event: RegistryEvent): Promise<void> {
    await fs.appendFile(path.join(dir, HISTORY_FILE), `${JSON.stringify(event)}\n`);
  }

  async function activeVersion(): Promise<string | null> {
    try {
      const name = (await fs.readFile(path.join(dir, ACTIVE_FILE), 'utf8')).trim();
      return name === '' ? null : name;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async function list(): Promise<RegistryEntry[]> {
    const active = await activeVersion();
    const entries: RegistryEntry[] = [];
    for (const name of await fs.readdir(dir)) {
      const entry = await readEntry(path.join(dir, name), name === active);
      if (entry) entries.push(entry);
    }
    return entries.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  async function applyRetention(): Promise<void> {
    const entries = await list();
    let kept = 0;
    for (const entry of entries) {
      if (entry.active || kept < keepVersions - 1) {
        if (!entry.active) kept += 1;
        continue;
      }
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
      const staging = `${target}.partial-${process.pid}`;
      await fs.rm(staging, { recursive: true, force: true });
      await model.save(staging);
      await fs.rm(target, { recursive: true, force: true });
      await fs.rename(staging, target);
      await appendHistory({
        at: new Date().toISOString(),
        version: model.version,
        event: 'registered',
      });
      return target;
    },
    async activate(version, details) {
      const name = versionDirName(version);
      if (!(await readEntry(path.join(dir, name), false))) {
        throw new TsadError(
          'TSAD_ERR_MODEL_NOT_FOUND',
          `registry ${dir} has no version ${version}`,
        );
      }
      const temp = path.join(dir, `${ACTIVE_FILE}.tmp-${process.pid}`);
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
    async history() {
      let text = '';
      try {
        text = await fs.readFile(path.join(dir, HISTORY_FILE), 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
      return text
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as RegistryEvent);
    },
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

/** Versions become directory names; anything but [A-Za-z0-9._-] is replaced. */
function versionDirName(version: string): string {
  return version.replace(/[^A-Za-z0-9._-]/g, '_');
}

async function readEntry(versionDir: string, active: boolean): Promise<RegistryEntry | null> {
  let text: string;
  try {
    text = await fs.readFile(path.join(versionDir, METADATA_JSON), 'utf8');
  } catch {
    return null;
  }
  const meta = JSON.parse(text) as {
    version: string;
    createdAt: string;
    config: { windowSize: number };
    channels: string[];
    training?: { windows?: number };
    lossHistory?: { valLoss?: number | null }[];
  };
  const best = meta.lossHistory
    ?.map((epoch) => epoch.valLoss)
    .filter((loss): loss is number => typeof loss === 'number');
  return {
    version: meta.version,
    createdAt: meta.createdAt,
    active,
    windowSize: meta.config.windowSize,
    channels: meta.channels,
    valLoss: best && best.length > 0 ? Math.min(...best) : null,
    trainingWindows: meta.training?.windows ?? null,
  };
}
