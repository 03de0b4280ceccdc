/**
 * The model registry's lock. A daemon keeps its registry to itself while it
 * runs: two daemons on one registry delete each other's active model through
 * retention and overwrite each other's ACTIVE. The lock is a file `LOCK` in
 * the registry, created only when absent (flag 'wx'), saying who holds it:
 * pid, host name and start time. A lock left by a process that is gone (this
 * host, pid not alive) is taken over; whether a process on another host is
 * alive cannot be told from here, so such a lock is refused.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { TsadError } from '../errors.ts';

export const LOCK_FILE = 'LOCK';

/** Who holds a registry's lock, as its LOCK file says. */
export interface LockHolder {
  pid: number;
  hostname: string;
  /** When the holder took the lock (ISO 8601). */
  startedAt: string;
}

const lockHolderSchema = z.object({
  pid: z.number().int().positive(),
  hostname: z.string(),
  startedAt: z.string(),
});

/** A lock taken by lockRegistry. */
export interface RegistryLock {
  readonly file: string;
  /** Removes the LOCK file, unless it is no longer this lock's. Idempotent. */
  release(): Promise<void>;
}

// LOCK files this process holds. A LOCK naming this process's pid is another
// daemon of this process when listed here, else a lock left by an earlier
// process that had the same pid (pid 1 of a restarted container).
const heldByThisProcess = new Set<string>();

/**
 * Takes the lock of the registry `dir` (an existing directory). A lock held
 * by a live process on this host, by a process on another host, or one whose
 * holder cannot be read is TSAD_ERR_CONFIG_INVALID naming the registry and
 * the holder: each daemon needs its own `model.registryDir`. A lock of a dead
 * process on this host is taken over; `onTakeover` hears of it.
 */
export async function lockRegistry(
  dir: string,
  onTakeover?: (stale: LockHolder, file: string) => void,
): Promise<RegistryLock> {
  const file = path.join(await fs.realpath(dir), LOCK_FILE);
  const holder: LockHolder = {
    pid: process.pid,
    hostname: os.hostname(),
    startedAt: new Date().toISOString(),
  };
  const text = `${JSON.stringify(holder)}\n`;
  for (;;) {
    try {
      await fs.writeFile(file, text, { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const current = await readHolder(file);
    if (current === null) continue; // released meanwhile
    refuseUnlessStale(dir, file, current);
    onTakeover?.(current, file);
    // Two daemons taking over the same stale lock at the same moment could
    // both remove it and each create one; the window is a few system calls.
    await fs.rm(file, { force: true });
  }
  heldByThisProcess.add(file);
  let released = false;
  return {
    file,
    async release() {
      if (released) return;
      released = true;
      heldByThisProcess.delete(file);
      // Deleted by hand and taken by another daemon since: that one's now.
      if ((await readIfPresent(file)) === text) await fs.rm(file, { force: true });
    },
  };
}

/** The holder the LOCK file names; null when the file is gone; a refusal when unreadable. */
async function readHolder(file: string): Promise<LockHolder | null> {
  const text = await readIfPresent(file);
  if (text === null) return null;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = lockHolderSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  throw new TsadError(
    'TSAD_ERR_CONFIG_INVALID',
    `model registry ${path.dirname(file)} is locked by ${file}, which does not say by whom ` +
      `(${JSON.stringify(text.slice(0, 100))}): each tsad daemon needs its own model.registryDir; ` +
      `if no daemon uses the registry, delete ${file}`,
  );
}

/** Returns when `current` is a lock left by a dead process of this host; throws the refusal otherwise. */
function refuseUnlessStale(dir: string, file: string, current: LockHolder): void {
  const holder = `pid ${current.pid} on host ${current.hostname}, since ${current.startedAt} (${file})`;
  const advice = 'each tsad daemon needs its own model.registryDir';
  if (current.hostname !== os.hostname()) {
    throw new TsadError(
      'TSAD_ERR_CONFIG_INVALID',
      `model registry ${dir} is locked by ${holder}, another host: ${advice}; ` +
        `if that daemon is no longer running, delete ${file}`,
    );
  }
  if (current.pid === process.pid ? heldByThisProcess.has(file) : isProcessAlive(current.pid)) {
    const [who, stale] =
      current.pid === process.pid
        ? ['another daemon of this process', '']
        : ['another daemon', `; if pid ${current.pid} is not a tsad daemon, delete ${file}`];
    throw new TsadError(
      'TSAD_ERR_CONFIG_INVALID',
      `model registry ${dir} is in use by ${who}: ${holder}: ${advice}${stale}`,
    );
  }
}

/** True when a process with this pid exists (signal 0 checks without signalling). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readIfPresent(file: string): Promise<string | null> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
