/**
 * What every command receives, and the exit codes they return. Kept apart from
 * cli.ts so that commands can import them without an import cycle.
 */

/** What main.ts hands every command: the signal that asks it to stop. */
export interface CliContext {
  /** Aborted on SIGINT/SIGTERM/SIGHUP; long-running commands stop gracefully. */
  shutdownSignal: AbortSignal;
  /** Where a command writes its results (stdout by default). */
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** Exit codes: 0 ok, 1 failure, 2 usage or configuration error. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/**
 * A point where a command may stop: gives the event loop a turn, so that
 * main.ts's SIGINT/SIGTERM handler can run (native scoring and synchronous
 * file reads never give it one), then throws the signal's reason if it was
 * aborted; runCli reports that as "stopped by SIGTERM before finishing".
 */
export async function stopPoint(signal: AbortSignal | undefined): Promise<void> {
  await new Promise(setImmediate);
  signal?.throwIfAborted();
}
