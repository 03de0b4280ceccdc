/**
 * Process entry point of the `tsad` command and the only place that traps
 * signals: SIGINT/SIGTERM/SIGHUP abort the shutdown signal that long-running
 * commands watch; a second signal exits at once. SIGHUP (the terminal closed)
 * is trapped too because Node's default for it ends the process on the spot,
 * skipping the daemon's shutdown: no commit, registry lock left behind.
 * Imported by nothing.
 */
import { runCli } from './cli/cli.ts';

const shutdown = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (shutdown.signal.aborted) process.exit(130);
    shutdown.abort(signal);
  });
}

process.exitCode = await runCli(process.argv.slice(2), { shutdownSignal: shutdown.signal });

// The command has finished. A handle it could not close (a teardown step
// abandoned at `shutdown.timeoutMs`, a stuck worker) must not keep the process
// alive: give pending output a moment, then exit with the command's code.
const EXIT_GRACE_MS = 3_000;
setTimeout(() => process.exit(), EXIT_GRACE_MS).unref();
