/**
 * Process entry point of the `tsad` command and the only place that traps
 * signals: SIGINT/SIGTERM abort the shutdown signal that long-running commands
 * watch; a second signal exits at once. Imported by nothing.
 */
import { runCli } from './cli/cli.ts';

const shutdown = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (shutdown.signal.aborted) process.exit(130);
    shutdown.abort(signal);
  });
}

process.exitCode = await runCli(process.argv.slice(2), { shutdownSignal: shutdown.signal });
