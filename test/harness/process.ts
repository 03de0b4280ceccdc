import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** A server process started by the harness, its output going to `logFile`. */
export interface ServerProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Settles with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<number | string>;
  /** True until the process has exited. */
  running(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

export interface LaunchOptions {
  name: string;
  command: string;
  args: string[];
  logFile: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /**
   * Own process group and no tie to this process, for `services:up`, whose
   * servers outlive the command that started them.
   */
  detached?: boolean;
}

/**
 * Starts a server with stdout and stderr appended to its log file (never a
 * pipe, so a detached server does not block or die when we exit).
 */
export function launch(options: LaunchOptions): ServerProcess {
  const fd = fs.openSync(options.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', fd, fd],
      detached: options.detached ?? false,
    });
  } finally {
    fs.closeSync(fd);
  }
  let alive = true;
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      alive = false;
      resolve(code ?? signal ?? 'unknown');
    });
    child.once('error', (error) => {
      alive = false;
      fs.appendFileSync(options.logFile, `\n[harness] spawn failed: ${error.message}\n`);
      resolve('spawn-error');
    });
  });
  if (options.detached) child.unref();
  const pid = child.pid ?? -1;
  if (!options.detached && pid > 0) {
    const watchdog = watchParent(pid);
    void exited.then(() => watchdog.kill('SIGKILL'));
  }
  return {
    name: options.name,
    pid,
    logFile: options.logFile,
    exited,
    running: () => alive,
    async stop(graceMs = 15_000) {
      if (!alive) return;
      child.kill('SIGTERM');
      // An unref'd timer, so a quick exit does not leave us waiting out the grace period.
      const outcome = await Promise.race([
        exited.then(() => 'exited'),
        sleep(graceMs, 'timeout', { ref: false }),
      ]);
      if (outcome === 'timeout') {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/**
 * A tiny detached shell that stops `pid` if this Node process dies without
 * stopping it (SIGKILL, a crash): a test run killed hard must not leave a
 * Kafka JVM burning the shared machine's two cores. It polls every 2 s and is
 * killed itself when the server exits normally.
 */
function watchParent(pid: number): ChildProcess {
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 2; done; kill -TERM ${pid} 2>/dev/null; sleep 10; kill -KILL ${pid} 2>/dev/null`;
  const watchdog = spawn('sh', ['-c', script], { stdio: 'ignore', detached: true });
  watchdog.unref();
  return watchdog;
}

/**
 * Stops a process we hold only by pid (a detached server from an earlier
 * `services:up`): SIGTERM, wait, then SIGKILL.
 */
export async function stopPid(pid: number, graceMs = 15_000): Promise<void> {
  if (!pidAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!pidAlive(pid)) return;
    await sleep(100);
  }
  if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
}

/** True when a process with this pid exists (and is not a zombie we could reap). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return true;
  }
}

/** The last `lines` lines of a log, for error messages about a server that died. */
export function tail(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
