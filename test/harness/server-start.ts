import fs from 'node:fs';
import { TsadError } from '../../src/errors.ts';
import type { ServerProcess } from './process.ts';
import { tail } from './process.ts';

/** What one start attempt produced: the process and the address it serves. */
export interface Started<T> {
  process: ServerProcess;
  info: T;
}

const BIND_ERROR = /address already in use|bind: address|BindException/i;

/**
 * Runs `attempt` (pick free ports, write config, launch, wait until ready) up
 * to three times. Free ports are picked by binding and releasing, so another
 * process on this shared machine can take one in between: when the server
 * died on a bind error we try again with new ports; any other failure is
 * reported at once with the end of the server's log.
 */
export async function startWithRetry<T>(
  name: string,
  attempt: (attemptNo: number) => Promise<{ process: ServerProcess; ready: Promise<T> }>,
): Promise<Started<T>> {
  let lastError: unknown;
  for (let attemptNo = 1; attemptNo <= 3; attemptNo++) {
    const { process: proc, ready } = await attempt(attemptNo);
    try {
      return { process: proc, info: await ready };
    } catch (error) {
      lastError = error;
      await proc.stop(5_000);
      const log = fs.existsSync(proc.logFile) ? fs.readFileSync(proc.logFile, 'utf8') : '';
      if (!BIND_ERROR.test(log)) break;
    }
  }
  const reason = lastError instanceof Error ? lastError.message : String(lastError);
  throw new TsadError('TSAD_ERR_SERVICE_START', `${name} did not start: ${reason}`, {
    cause: lastError,
  });
}

/** A reason to stop waiting when the server process has already exited, with its log tail. */
export function diedReason(proc: ServerProcess): string | undefined {
  if (proc.running()) return undefined;
  return `process exited; end of ${proc.logFile}:\n${tail(proc.logFile)}`;
}
