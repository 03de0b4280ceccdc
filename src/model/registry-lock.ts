/**
 * The model registry's lock. A daemon keeps its registry to itself while it
 * runs: two daemons on one registry delete each other's active model through
 * retention and overwrite each other's ACTIVE. The lock is a file `LOCK` in
 * the registry, created only when absent (flag 'wx'), saying who holds it:
 * pid, host name, start time and, on Linux, the boot and the process's start
 * tick. A lock left by a process that is gone is taken over: one of this host
 * whose pid is not alive, is alive but started at another tick (the pid was
 * reused), or is from an earlier boot; an empty one older than a few seconds
 * (a holder that crashed between creating and writing it). Whether a process
 * on another host is alive cannot be told from here, so such a lock is refused.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { TsadError } from '../errors.ts';
import { stagingPath } from './persistence.ts';

export const LOCK_FILE = 'LOCK';

/** Who holds a registry's lock, as its LOCK file says. */
export interface LockHolder {
  pid: number;
  hostname: string;
  /** When the holder took the lock (ISO 8601). */
  startedAt: string;
  /** The host's boot (Linux: /proc/sys/kernel/random/boot_id); absent elsewhere and in older locks. */
  bootId?: string | undefined;
  /** When the holder's process started, in clock ticks since boot (Linux); absent elsewhere. */
  processStart?: string | undefined;
}

const lockHolderSchema = z.object({
  pid: z.number().int().positive(),
  hostname: z.string(),
  startedAt: z.string(),
  bootId: z.string().optional(),
  processStart: z.string().optional(),
});

/** An empty LOCK this old is a holder that crashed between creating and writing it. */
const EMPTY_LOCK_STALE_MS = 5_000;

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
 * the holder: each daemon needs its own `model.registryDir`. A lock of a
 * process of this host that is gone is taken over; `onTakeover` hears of it
 * (with no holder for an empty LOCK).
 */
export async function lockRegistry(
  dir: string,
  onTakeover?: (stale: LockHolder | undefined, file: string) => void,
): Promise<RegistryLock> {
  const file = path.join(await fs.realpath(dir), LOCK_FILE);
  const holder: LockHolder = {
    pid: process.pid,
    hostname: os.hostname(),
    startedAt: new Date().toISOString(),
    ...(await thisProcessIdentity()),
  };
  const text = `${JSON.stringify(holder)}\n`;
  for (;;) {
    try {
      await fs.writeFile(file, text, { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const current = await readLock(file);
    if (current === null) continue; // released meanwhile
    if (current.holder !== undefined) await refuseUnlessStale(dir, file, current.holder);
    onTakeover?.(current.holder, file);
    await removeStaleLock(file, current.text);
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

/**
 * What the LOCK file says: null when the file is gone; `holder` undefined for
 * an empty file old enough to be a crashed holder's; a refusal when it says
 * nothing readable otherwise.
 */
async function readLock(file: string): Promise<{ text: string; holder?: LockHolder } | null> {
  const text = await readIfPresent(file);
  if (text === null) return null;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = lockHolderSchema.safeParse(json);
  if (parsed.success) return { text, holder: parsed.data };
  if (text === '') {
    const age = await fs.stat(file).then(
      (stats) => Date.now() - stats.mtimeMs,
      () => 0,
    );
    if (age >= EMPTY_LOCK_STALE_MS) return { text };
  }
  throw new TsadError(
    'TSAD_ERR_CONFIG_INVALID',
    `model registry ${path.dirname(file)} is locked by ${file}, which does not say by whom ` +
      `(${JSON.stringify(text.slice(0, 100))}): each tsad daemon needs its own model.registryDir; ` +
      `if no daemon uses the registry, delete ${file}`,
  );
}

/**
 * Removes the stale LOCK whose content was `staleText`. It is first renamed
 * aside, an atomic step: when two daemons take over the same stale lock at
 * once, the second may move the lock the first has just created; it then sees
 * other content, puts that back and tries again (and is refused). A third
 * daemon creating a lock in that moment could still be overwritten.
 */
export async function removeStaleLock(file: string, staleText: string): Promise<void> {
  const aside = stagingPath(file, 'old');
  try {
    await fs.rename(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // taken over meanwhile
    throw error;
  }
  if ((await fs.readFile(aside, 'utf8')) === staleText) await fs.rm(aside, { force: true });
  else await fs.rename(aside, file);
}

/** Returns when `current` is a lock left by a process of this host that is gone; throws the refusal otherwise. */
async function refuseUnlessStale(dir: string, file: string, current: LockHolder): Promise<void> {
  const holder = `pid ${current.pid} on host ${current.hostname}, since ${current.startedAt} (${file})`;
  const advice = 'each tsad daemon needs its own model.registryDir';
  if (current.hostname !== os.hostname()) {
    throw new TsadError(
      'TSAD_ERR_CONFIG_INVALID',
      `model registry ${dir} is locked by ${holder}, another host: ${advice}; ` +
        `if that daemon is no longer running, delete ${file}`,
    );
  }
  if (!(await isHolderAlive(file, current))) return;
  const [who, stale] =
    current.pid === process.pid
      ? ['another daemon of this process', '']
      : ['another daemon', `; if pid ${current.pid} is not a tsad daemon, delete ${file}`];
  throw new TsadError(
    'TSAD_ERR_CONFIG_INVALID',
    `model registry ${dir} is in use by ${who}: ${holder}: ${advice}${stale}`,
  );
}

/** Whether the process of this host that the lock names still runs (as far as this host can tell). */
async function isHolderAlive(file: string, current: LockHolder): Promise<boolean> {
  const self = await thisProcessIdentity();
  // An earlier boot: none of its processes runs now.
  if (current.bootId !== undefined && self.bootId !== undefined && current.bootId !== self.bootId) {
    return false;
  }
  // This pid: another daemon of this process, or an earlier process that had it (a restarted container's pid 1).
  if (current.pid === process.pid) return heldByThisProcess.has(file);
  if (!isProcessAlive(current.pid)) return false;
  // Alive, but started at another tick: the pid was reused by a process started since.
  const start = await processStartTick(current.pid);
  return (
    current.processStart === undefined || start === undefined || start === current.processStart
  );
}

/** This boot and this process's start tick, where the system tells them (Linux). */
async function thisProcessIdentity(): Promise<Pick<LockHolder, 'bootId' | 'processStart'>> {
  const bootId = (await readIfPresent('/proc/sys/kernel/random/boot_id').catch(() => null))?.trim();
  const processStart = await processStartTick(process.pid);
  return {
    ...(bootId ? { bootId } : {}),
    ...(processStart !== undefined ? { processStart } : {}),
  };
}

/**
 * When process `pid` started, in clock ticks since boot: field 22 of
 * /proc/<pid>/stat (Linux); undefined where there is no such file.
 */
export async function processStartTick(pid: number): Promise<string | undefined> {
  const stat = await readIfPresent(`/proc/${pid}/stat`).catch(() => null);
  if (stat === null) return undefined;
  // Field 2, the command name, is in parentheses and may hold spaces and ')':
  // the fields after its last ')' are 3, 4, ..., so field 22 is the 20th of them.
  const tick = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  return tick !== undefined && /^\d+$/.test(tick) ? tick : undefined;
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
