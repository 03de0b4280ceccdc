import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import { TsadError } from '../../src/errors.ts';
import { ensureCommand } from './install.ts';
import { freePorts } from './ports.ts';
import { launch, type ServerProcess } from './process.ts';
import { diedReason, startWithRetry } from './server-start.ts';
import { waitFor } from './wait.ts';

const POM = fileURLToPath(new URL('./kafka/pom.xml', import.meta.url));

/** The Kafka version pinned in test/harness/kafka/pom.xml. */
export function kafkaVersion(): string {
  const match = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(fs.readFileSync(POM, 'utf8'));
  if (match?.[1] === undefined) throw new Error(`no <kafka.version> in ${POM}`);
  return match[1];
}

/** Where the broker's classpath is cached between runs (outside the repo, so every clone shares it). */
export function kafkaLibsDir(): string {
  const cacheRoot = process.env['XDG_CACHE_HOME'] ?? path.join(os.homedir(), '.cache');
  return path.join(cacheRoot, 'tsad', `kafka-${kafkaVersion()}`, 'libs');
}

/**
 * Returns a directory holding the Kafka broker's jars, resolving them from
 * Maven Central with `mvn dependency:copy-dependencies` on first use (the
 * jars land in ~/.m2 too). The copy goes to a temporary directory renamed
 * into place, so a concurrent run never sees half a classpath.
 */
export function ensureKafkaLibs(log: (line: string) => void = () => {}): string {
  const libs = kafkaLibsDir();
  if (fs.existsSync(path.join(libs, '.complete'))) return libs;
  ensureCommand('java', log);
  const mvn = ensureCommand('mvn', log);
  const staging = `${libs}.tmp-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(libs), { recursive: true });
  log(`resolving Kafka ${kafkaVersion()} jars with Maven into ${libs}`);
  const result = spawnSync(
    mvn,
    [
      '-q',
      '-B',
      '-Dstyle.color=never',
      '-f',
      POM,
      'dependency:copy-dependencies',
      `-DoutputDirectory=${staging}`,
    ],
    { stdio: ['ignore', 2, 2] },
  );
  if (result.status !== 0) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw new TsadError(
      'TSAD_ERR_SERVICE_START',
      `mvn could not resolve the Kafka jars (exit ${result.status})`,
      {
        retriable: true,
      },
    );
  }
  fs.writeFileSync(path.join(staging, '.complete'), `${new Date().toISOString()}\n`);
  try {
    fs.renameSync(staging, libs);
  } catch {
    // another run won the race; its copy is as good as ours
    fs.rmSync(staging, { recursive: true, force: true });
  }
  return libs;
}

/** A running single-node KRaft broker. */
export interface KafkaServer {
  /** `host:port` of the PLAINTEXT listener. */
  brokers: string;
  process: ServerProcess;
  dir: string;
}

export interface StartKafkaOptions {
  /** Directory for config, data and the log file `kafka.log`; created if missing. */
  dir: string;
  detached?: boolean;
  log?: (line: string) => void;
}

const LOG4J = `log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.kafka.request.logger=WARN
log4j.logger.org.apache.kafka.clients.NetworkClient=WARN
`;

/**
 * Starts Apache Kafka in KRaft mode (one node that is both broker and
 * controller) on two free loopback ports, from the Maven-resolved jars: the
 * storage directory is formatted with a fresh cluster id, then `kafka.Kafka`
 * runs with a 512 MiB heap. Resolves once a kafkajs admin client can list
 * topics. Settings suit tests: replication factor 1 everywhere, topics
 * auto-created with one partition, no initial rebalance delay.
 */
export async function startKafka(options: StartKafkaOptions): Promise<KafkaServer> {
  const log = options.log ?? (() => {});
  const libs = ensureKafkaLibs(log);
  const java = ensureCommand('java', log);
  fs.mkdirSync(options.dir, { recursive: true });
  const logFile = path.join(options.dir, 'kafka.log');
  const started = await startWithRetry('Kafka', async (attemptNo) => {
    const [brokerPort, controllerPort] = (await freePorts(2)) as [number, number];
    const dataDir = path.join(options.dir, `data-${attemptNo}`);
    const propsFile = path.join(options.dir, 'server.properties');
    const log4jFile = path.join(options.dir, 'log4j.properties');
    fs.writeFileSync(log4jFile, LOG4J);
    fs.writeFileSync(
      propsFile,
      [
        'process.roles=broker,controller',
        'node.id=1',
        `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
        `listeners=PLAINTEXT://127.0.0.1:${brokerPort},CONTROLLER://127.0.0.1:${controllerPort}`,
        `advertised.listeners=PLAINTEXT://127.0.0.1:${brokerPort}`,
        'controller.listener.names=CONTROLLER',
        'inter.broker.listener.name=PLAINTEXT',
        'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
        `log.dirs=${dataDir}`,
        'num.partitions=1',
        'default.replication.factor=1',
        'offsets.topic.replication.factor=1',
        'offsets.topic.num.partitions=4',
        'transaction.state.log.replication.factor=1',
        'transaction.state.log.min.isr=1',
        'min.insync.replicas=1',
        'group.initial.rebalance.delay.ms=0',
        'auto.create.topics.enable=true',
        'delete.topic.enable=true',
        'log.segment.bytes=16777216',
        '',
      ].join('\n'),
    );
    // C1-only JIT and the serial collector: on a 2-core machine shared with
    // the tests they cut the CPU the broker burns to start by about 40%
    // (measured with test/harness/measure-start.ts), and a test broker needs
    // neither peak throughput nor short GC pauses.
    const jvm = [
      '-Xmx512m',
      '-Xms128m',
      '-XX:+UseSerialGC',
      '-XX:TieredStopAtLevel=1',
      '-Djava.awt.headless=true',
      `-Dlog4j.configuration=file:${log4jFile}`,
      `-Dkafka.logs.dir=${options.dir}`,
      '-cp',
      `${libs}/*`,
    ];
    const clusterId = newClusterId();
    const format = spawnSync(
      java,
      [...jvm, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', propsFile],
      { encoding: 'utf8' },
    );
    fs.appendFileSync(logFile, `[harness] storage format:\n${format.stdout}${format.stderr}\n`);
    if (format.status !== 0) {
      throw new TsadError('TSAD_ERR_SERVICE_START', `kafka-storage format failed; see ${logFile}`, {
        retriable: false,
      });
    }
    const proc = launch({
      name: 'kafka',
      command: java,
      args: [...jvm, 'kafka.Kafka', propsFile],
      logFile,
      cwd: options.dir,
      detached: options.detached ?? false,
    });
    const brokers = `127.0.0.1:${brokerPort}`;
    return { process: proc, ready: waitForKafka(brokers, proc).then(() => brokers) };
  });
  return { brokers: started.info, process: started.process, dir: options.dir };
}

async function waitForKafka(brokers: string, proc: ServerProcess): Promise<void> {
  const kafka = new Kafka({
    clientId: 'tsad-harness',
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    connectionTimeout: 1_000,
  });
  await waitFor(
    async () => {
      const admin = kafka.admin();
      try {
        await admin.connect();
        await admin.listTopics();
        // Finding a group coordinator creates __consumer_offsets; doing it
        // here spares the first test a round of "coordinator not available".
        await admin.describeGroups(['tsad-harness-warmup']);
        return true;
      } finally {
        await admin.disconnect().catch(() => {});
      }
    },
    {
      what: `Kafka at ${brokers}`,
      timeoutMs: 120_000,
      intervalMs: 250,
      giveUpIf: () => diedReason(proc),
    },
  );
}

/**
 * Waits until every partition of `topic` has a leader that serves it. After
 * `createTopics({ waitForLeaders: true })` the metadata can name a leader a
 * moment before that broker acts as one, and a produce without retries (the
 * bench's raw producer) then fails with NOT_LEADER_OR_FOLLOWER. Listing
 * offsets goes to each partition's leader; kafkajs gives up on that error at
 * once, so it is asked again, for up to 10 s.
 */
export async function untilLeadersServe(admin: Admin, topic: string): Promise<void> {
  await waitFor(() => admin.fetchTopicOffsets(topic), {
    timeoutMs: 10_000,
    intervalMs: 100,
    what: `the leaders of ${topic}`,
  });
}

/**
 * A random cluster id: 16 bytes in base64url, as Kafka's own. One in 64
 * starts with '-', which the storage tool's argument parser reads as an
 * option ("argument --cluster-id/-t: expected one argument"); Kafka's
 * `Uuid.randomUuid` skips those too.
 */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}
