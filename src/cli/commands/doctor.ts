/**
 * `tsad doctor`: reports the TensorFlow backend in use (and why a fallback was
 * chosen) so an operator can check an installation.
 */
import type { Command } from 'commander';
import { initBackend } from '../../model/backend.ts';
import type { CliContext } from '../cli.ts';

/** Adds `tsad doctor [--json]` to the program. */
export function registerDoctor(program: Command, context: CliContext): void {
  program
    .command('doctor')
    .description('check the TensorFlow backend and the configured services')
    .option('--json', 'print one JSON object instead of readable lines', false)
    .action(async (options: { json: boolean }) => {
      const info = await initBackend({ warn: () => {} });
      const report = {
        backend: info.backend,
        tensorflowVersion: info.tensorflowVersion,
        tfjsVersion: info.tfjsVersion,
        native: info.backend === 'tensorflow',
        fallbackReason: info.fallbackReason ?? null,
      };
      if (options.json) {
        context.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return;
      }
      context.stdout.write(
        info.backend === 'tensorflow'
          ? `backend: tensorflow (native, libtensorflow ${info.tensorflowVersion})\n`
          : `backend: ${info.backend} (FALLBACK: ${info.fallbackReason})\n`,
      );
    });
}
