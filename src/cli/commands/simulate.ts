/**
 * `tsad simulate`: produces realistic sensor readings with labelled injected
 * anomalies to a Kafka topic, and prints a JSON summary of what it injected
 * where (labels also to a file and/or topic), so a detector run against the
 * topic can be scored against the truth. Settings shared with the daemon
 * (brokers, topic, simulator section, input field names) come from the
 * config, so `--config` and TSAD_ variables apply here as well.
 */
import type { Command } from 'commander';
import { realTimeIntervalMs } from '../../adapters/simulator/paced-readings.ts';
import { produceSimulation } from '../../adapters/simulator/produce-simulation.ts';
import { createSimulator } from '../../adapters/simulator/simulator.ts';
import { createLogger } from '../../app/logger.ts';
import {
  addConfigOptions,
  type ConfigCommandOptions,
  type ConfigFlag,
  loadCommandConfig,
} from '../../config/cli-options.ts';
import { kafkaClientOptions } from '../../config/kafka-client-options.ts';
import { TsadError } from '../../errors.ts';
import type { CliContext } from '../cli.ts';
import { createProgress } from '../progress.ts';

const SIMULATE_FLAGS: readonly ConfigFlag[] = [
  {
    flags: '--brokers <list>',
    path: 'kafka.brokers',
    description: 'Kafka bootstrap brokers as host:port to produce the readings to (needed).',
  },
  { flags: '--topic <name>', path: 'kafka.inputTopic' },
  { flags: '--sensors <n>', path: 'simulator.sensors' },
  { flags: '--channels <list>', path: 'simulator.channels' },
  { flags: '--rate <readings/s>', path: 'simulator.ratePerSecond' },
  { flags: '--interval-ms <ms>', path: 'simulator.intervalMs' },
  { flags: '--anomaly-every <readings>', path: 'simulator.anomalyEvery' },
  { flags: '--clean-start <readings>', path: 'simulator.cleanStart' },
  { flags: '--seed <n>', path: 'simulator.seed' },
  { flags: '--log-level <level>', path: 'log.level' },
];

interface SimulateOptions extends ConfigCommandOptions {
  points?: string;
  anomalies?: string;
  labelsFile?: string;
  labelsTopic?: string;
  partitions: string;
  startTs?: string;
}

function wholeNumber(name: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) {
    throw new TsadError(
      'TSAD_ERR_CONFIG_INVALID',
      `${name} = ${JSON.stringify(text)}: expected an integer ≥ ${min}`,
    );
  }
  return value;
}

/** Adds `tsad simulate` to the program. */
export function registerSimulate(program: Command, context: CliContext): void {
  const command = program
    .command('simulate')
    .description(
      'produce simulated sensor readings with labelled anomalies to Kafka; prints a JSON summary',
    )
    .option('--points <n>', 'readings per sensor (default: endless, until Ctrl-C)')
    .option(
      '--anomalies <n>',
      'exactly this many anomalies spread over sensors and time (needs --points; default: one per --anomaly-every readings)',
    )
    .option('--labels-file <file>', 'also write the labels as JSON lines to this file')
    .option('--labels-topic <topic>', 'also produce the labels to this topic (key = sensor)')
    .option('--partitions <n>', 'partitions of topics created when missing', '3')
    .option('--start-ts <ms>', 'timestamp of the first reading (default: now)');
  addConfigOptions(command, SIMULATE_FLAGS).action(async (options: SimulateOptions) => {
    const config = loadCommandConfig(options, SIMULATE_FLAGS);
    if (config.kafka.brokers.length === 0) {
      throw new TsadError(
        'TSAD_ERR_CONFIG_INVALID',
        'no Kafka brokers: give --brokers host:port[,host:port] or set KAFKA_BROKERS',
      );
    }
    const points = wholeNumber('--points', options.points, 1);
    const anomalies = wholeNumber('--anomalies', options.anomalies, 0);
    const partitions = wholeNumber('--partitions', options.partitions, 1) as number;
    const sim = config.simulator;
    const intervalMs = sim.intervalMs ?? realTimeIntervalMs(sim.sensors, sim.ratePerSecond);
    // Stamps that advance faster than the clock (unpaced, or an interval longer
    // than the pacing) run ahead of it, and a daemon dead-letters readings more
    // than input.maxFutureMs ahead. A finite run of that kind ends now instead.
    const outrunsClock =
      !(sim.ratePerSecond > 0) || (sim.ratePerSecond / sim.sensors) * intervalMs > 1000;
    const startTs =
      wholeNumber('--start-ts', options.startTs, 0) ??
      (outrunsClock && points !== undefined ? Date.now() - points * intervalMs : Date.now());
    const simulator = createSimulator({
      sensors: sim.sensors,
      channels: sim.channels,
      seed: sim.seed,
      startTs,
      intervalMs,
      anomalyEvery: sim.anomalyEvery,
      cleanStart: sim.cleanStart,
      ...(points === undefined ? {} : { points }),
      ...(anomalies === undefined ? {} : { anomalies }),
    });
    const logger = createLogger(config.log, { name: 'tsad-simulate' });
    const progress = createProgress({
      label: `simulate → ${config.kafka.inputTopic}`,
      stream: context.stderr,
      ...(points === undefined ? {} : { total: points * sim.sensors }),
    });
    if (outrunsClock && points === undefined && options.startTs === undefined) {
      logger.warn(
        { intervalMs, rate: sim.ratePerSecond },
        'timestamps will run ahead of the clock; a daemon dead-letters readings more than input.maxFutureMs ahead (give --points, or pace with --rate)',
      );
    }
    logger.info(
      {
        brokers: config.kafka.brokers,
        topic: config.kafka.inputTopic,
        sensors: sim.sensors,
        rate: sim.ratePerSecond,
        points: points ?? 'endless',
      },
      'simulating',
    );
    try {
      const summary = await produceSimulation({
        client: kafkaClientOptions(config.kafka, '-simulate'),
        topic: config.kafka.inputTopic,
        partitions,
        simulator,
        ratePerSecond: sim.ratePerSecond,
        fields: config.input.fields,
        signal: context.shutdownSignal,
        onProgress: (sent) => progress.update(sent),
        log: (level, message, extra) => logger[level](extra, message),
        ...(options.labelsFile === undefined ? {} : { labelsFile: options.labelsFile }),
        ...(options.labelsTopic === undefined ? {} : { labelsTopic: options.labelsTopic }),
      });
      progress.stop();
      context.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    } finally {
      progress.stop();
    }
  });
}
