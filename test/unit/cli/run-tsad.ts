/**
 * Runs the CLI in-process for the command tests and keeps what it writes.
 */
import { Writable } from 'node:stream';
import { runCli } from '../../../src/cli/cli.ts';

/** A writable that keeps what is written to it. */
export function sink(): { stream: Writable; text: () => string } {
  let text = '';
  return {
    stream: new Writable({
      write(chunk, _encoding, done) {
        text += String(chunk);
        done();
      },
    }),
    text: () => text,
  };
}

interface TsadRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `tsad <argv>`: its exit code and what it wrote to stdout and stderr. */
export function tsad(...argv: string[]): Promise<TsadRun> {
  return run(argv, new AbortController().signal);
}

/**
 * `tsad <argv>` sent SIGTERM once it has started: its shutdown signal is
 * aborted from the event loop's next turn, as main.ts's signal handler does.
 */
export function tsadStoppedBySigterm(...argv: string[]): Promise<TsadRun> {
  const stop = new AbortController();
  const result = run(argv, stop.signal);
  setImmediate(() => stop.abort('SIGTERM'));
  return result;
}

async function run(argv: string[], shutdownSignal: AbortSignal): Promise<TsadRun> {
  const out = sink();
  const err = sink();
  const code = await runCli(argv, { shutdownSignal, stdout: out.stream, stderr: err.stream });
  return { code, stdout: out.text(), stderr: err.text() };
}
