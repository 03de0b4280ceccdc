/**
 * The `tsad` command line: one commander program with a subcommand per file in
 * ./commands. Each command module exports `register(program, context)`.
 */
import fs from 'node:fs';
import { Command, CommanderError } from 'commander';
import { isTsadError, systemReason } from '../errors.ts';
import { registerBacktest } from './commands/backtest.ts';
import { registerBench } from './commands/bench.ts';
import { registerConfig } from './commands/config.ts';
import { registerDoctor } from './commands/doctor.ts';
import { registerEvaluate } from './commands/evaluate.ts';
import { registerModels } from './commands/models.ts';
import { registerRun } from './commands/run.ts';
import { registerScore } from './commands/score.ts';
import { registerSimulate } from './commands/simulate.ts';
import { registerTrain } from './commands/train.ts';
import { type CliContext, EXIT } from './context.ts';
import { helpWithDefaults } from './help.ts';

export { type CliContext, EXIT } from './context.ts';

/** tsad's version, as package.json gives it. */
export const TSAD_VERSION: string = JSON.parse(
  fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
).version;

/** Builds the program; exported so tests can inspect the commands and options. */
export function buildProgram(context: CliContext): Command {
  const program = new Command('tsad')
    .description('Streaming time-series anomaly detector (LSTM autoencoder on Kafka streams)')
    .version(TSAD_VERSION, '-V, --version', 'print the version of tsad')
    .showHelpAfterError()
    .configureHelp(helpWithDefaults)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => context.stdout.write(text),
      writeErr: (text) => context.stderr.write(text),
    });
  registerBacktest(program, context);
  registerBench(program, context);
  registerConfig(program, context);
  registerDoctor(program, context);
  registerEvaluate(program, context);
  registerModels(program, context);
  registerRun(program, context);
  registerScore(program, context);
  registerSimulate(program, context);
  registerTrain(program, context);
  return program;
}

/** Runs the command line and resolves to the process exit code. */
export async function runCli(argv: string[], context: Partial<CliContext> = {}): Promise<number> {
  const full: CliContext = {
    shutdownSignal: context.shutdownSignal ?? new AbortController().signal,
    stdout: context.stdout ?? process.stdout,
    stderr: context.stderr ?? process.stderr,
  };
  const program = buildProgram(full);
  // Commands report a non-zero outcome through process.exitCode; read this
  // call's own and leave the caller's as it was (tests call runCli many times).
  const callersExitCode = process.exitCode;
  process.exitCode = undefined;
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    // A command stopped by SIGINT/SIGTERM/SIGHUP rejects with the signal's reason (its name).
    if (full.shutdownSignal.aborted && error === full.shutdownSignal.reason) {
      full.stderr.write(`tsad: stopped by ${String(error)} before finishing\n`);
      return EXIT.failure;
    }
    if (
      isTsadError(error, 'TSAD_ERR_CONFIG_INVALID') ||
      isTsadError(error, 'TSAD_ERR_INPUT_INVALID')
    ) {
      full.stderr.write(`tsad: ${withCause(error)}\n`);
      return isTsadError(error, 'TSAD_ERR_CONFIG_INVALID') ? EXIT.usage : EXIT.failure;
    }
    full.stderr.write(`tsad: ${error instanceof Error ? withCause(error) : String(error)}\n`);
    return EXIT.failure;
  } finally {
    process.exitCode = callersExitCode;
  }
}

/**
 * An error's message, followed by its cause's when the message does not
 * already say it: "cannot read x.json (ENOENT: no such file or directory)".
 * A system error's message also names the call and the path, which the
 * message before it already gives.
 */
function withCause(error: Error): string {
  const cause = error.cause;
  if (!(cause instanceof Error)) return error.message;
  const firstLine = systemReason(cause).split('\n')[0]!.trim();
  if (firstLine === '' || error.message.includes(firstLine)) return error.message;
  return `${error.message} (${firstLine})`;
}
