/**
 * `tsad run`: the monitoring daemon. With brokers it consumes the input topic
 * in a consumer group and produces alerts to the alert topic; without any it
 * runs embedded on the built-in simulator and prints alerts on stdout. It
 * stops gracefully when main.ts aborts the shutdown signal (SIGINT/SIGTERM/SIGHUP)
 * and exits 0 if the teardown finished within `shutdown.timeoutMs`.
 */
import type { Command } from 'commander';
import { createDaemon } from '../../app/daemon.ts';
import { createLogger } from '../../app/logger.ts';
import { applyRuntimeFlags } from '../../app/runtime-flags.ts';
import {
  addConfigOptions,
  COMMON_CONFIG_FLAGS,
  type ConfigCommandOptions,
  type ConfigFlag,
  loadCommandConfig,
} from '../../config/cli-options.ts';
import { TsadError } from '../../errors.ts';
import { type CliContext, EXIT } from '../context.ts';

/** The shortcut flags of `tsad run`, each bound to a setting. */
export const RUN_FLAGS: readonly ConfigFlag[] = [
  ...COMMON_CONFIG_FLAGS,
  { flags: '--topic <topic>', path: 'kafka.inputTopic' },
  { flags: '--alert-topic <topic>', path: 'kafka.alertTopic' },
  { flags: '--dlq-topic <topic>', path: 'kafka.deadLetterTopic' },
  { flags: '--group <id>', path: 'kafka.groupId' },
  { flags: '--model <dir>', path: 'model.path' },
  { flags: '--metrics-port <port>', path: 'metrics.port' },
];

/** Adds `tsad run` to the program. */
export function registerRun(program: Command, context: CliContext): void {
  const run = program
    .command('run')
    .description(
      'run the monitoring daemon (Kafka in, alerts out; without brokers: the built-in simulator, alerts on stdout)',
    );
  addConfigOptions(run, RUN_FLAGS).action(async (options: ConfigCommandOptions) => {
    const config = loadCommandConfig(options, RUN_FLAGS);
    const logger = createLogger(config.log);
    const v8Flags = applyRuntimeFlags(config.runtime);
    if (v8Flags.length > 0) logger.info({ v8Flags }, 'V8 flags set from runtime.*');
    const daemon = createDaemon({ config, logger, stdout: context.stdout });
    const signal = context.shutdownSignal;
    const stopRequested = new Promise<string>((resolve) => {
      if (signal.aborted) resolve(String(signal.reason));
      signal.addEventListener('abort', () => resolve(String(signal.reason)), { once: true });
    });
    let failure: unknown;
    try {
      await Promise.race([daemon.start(), stopRequested]);
      const why = await Promise.race([
        stopRequested.then((reason) => `signal ${reason}`),
        daemon.ended.then(
          () => 'input ended',
          (error: unknown) => {
            failure = error;
            return 'input failed';
          },
        ),
      ]);
      logger.info({ reason: why }, 'stopping');
    } catch (error) {
      failure = error;
      logger.error({ err: error }, 'daemon failed to start');
    }
    const report = await daemon.stop();
    if (failure !== undefined) {
      process.exitCode = EXIT.failure;
      if (failure instanceof TsadError && failure.code === 'TSAD_ERR_CONFIG_INVALID') throw failure;
      return;
    }
    if (report.abandoned.length > 0) {
      // Steps are also given up before the budget runs out (sends still retried half a second before it).
      logger.error(
        {
          code: 'TSAD_ERR_SHUTDOWN_TIMEOUT',
          abandoned: report.abandoned,
          elapsedMs: report.elapsedMs,
        },
        `shutdown gave up steps to stay within its ${config.shutdown.timeoutMs} ms budget`,
      );
      process.exitCode = EXIT.failure;
      return;
    }
    process.exitCode = EXIT.ok;
  });
}
