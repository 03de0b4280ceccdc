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

/** `tsad <argv>`: its exit code and what it wrote to stdout and stderr. */
export async function tsad(
  ...argv: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = sink();
  const err = sink();
  const code = await runCli(argv, { stdout: out.stream, stderr: err.stream });
  return { code, stdout: out.text(), stderr: err.text() };
}
