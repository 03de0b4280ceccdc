import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { TsadError } from '../../src/errors.ts';
import { ensureCommand } from './install.ts';
import { freePort } from './ports.ts';
import { launch, type ServerProcess } from './process.ts';
import { diedReason, startWithRetry } from './server-start.ts';
import { waitFor } from './wait.ts';

/** A scrape target added with addScrapeTarget; remove() stops Prometheus scraping it. */
export interface ScrapeTarget {
  readonly file: string;
  remove(): void;
}

/**
 * Makes a Prometheus that watches `fileSdDir` (every harness-started one
 * does, through the `file_sd_configs` of its default config) scrape
 * `hostPort` under the job label `job`. Writes one target-group file per
 * call, renamed into place so Prometheus never reads half a file; picked up
 * within about a second.
 */
export function addScrapeTarget(
  fileSdDir: string,
  job: string,
  hostPort: string,
  labels: Record<string, string> = {},
): ScrapeTarget {
  fs.mkdirSync(fileSdDir, { recursive: true });
  const name = `${job.replace(/[^A-Za-z0-9_-]/g, '_')}-${randomBytes(4).toString('hex')}`;
  const file = path.join(fileSdDir, `${name}.json`);
  const staging = path.join(fileSdDir, `.${name}.tmp`);
  fs.writeFileSync(staging, JSON.stringify([{ targets: [hostPort], labels: { ...labels, job } }]));
  fs.renameSync(staging, file);
  return { file, remove: () => fs.rmSync(file, { force: true }) };
}

/** The config every harness Prometheus starts with unless given its own. */
export function defaultPrometheusConfig(fileSdDir: string): string {
  return `global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: tsad-test
    file_sd_configs:
      - files: ['${fileSdDir}/*.json']
        refresh_interval: 1s
`;
}

/** A running Prometheus. */
export interface PrometheusServer {
  /** e.g. http://127.0.0.1:41235 */
  url: string;
  /** Directory watched for scrape targets (see addScrapeTarget). */
  fileSdDir: string;
  /** Directory holding prometheus.yml and the rule files; relative `rule_files` resolve here. */
  configDir: string;
  process: ServerProcess;
  addScrapeTarget(job: string, hostPort: string, labels?: Record<string, string>): ScrapeTarget;
  /** Writes a new config (and rule files) and reloads through /-/reload; throws if Prometheus rejects it. */
  reload(options: PrometheusConfigOptions): Promise<void>;
  stop(): Promise<void>;
}

export interface PrometheusConfigOptions {
  /**
   * A whole prometheus.yml. Without it the default config above is used.
   * `${FILE_SD_DIR}` in the text is replaced by the watched target directory,
   * so a custom config can keep using addScrapeTarget.
   */
  configYaml?: string;
  /** Rule files by file name, written next to prometheus.yml (refer to them by name in `rule_files`). */
  ruleFiles?: Record<string, string>;
}

export interface StartPrometheusOptions extends PrometheusConfigOptions {
  /** Directory for config, TSDB and the log file `prometheus.log`; created if missing. */
  dir: string;
  detached?: boolean;
  log?: (line: string) => void;
}

function writeConfig(
  configDir: string,
  fileSdDir: string,
  options: PrometheusConfigOptions,
): string {
  fs.mkdirSync(configDir, { recursive: true });
  for (const [name, content] of Object.entries(options.ruleFiles ?? {})) {
    fs.writeFileSync(path.join(configDir, name), content);
  }
  const configFile = path.join(configDir, 'prometheus.yml');
  const yaml = options.configYaml ?? defaultPrometheusConfig(fileSdDir);
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal placeholder in the user's YAML
  fs.writeFileSync(configFile, yaml.replaceAll('${FILE_SD_DIR}', fileSdDir));
  return configFile;
}

/**
 * Starts Debian's `prometheus` on a free loopback port with its TSDB under
 * `dir` and the lifecycle API on (for /-/reload). By default it scrapes, every
 * second, whatever targets addScrapeTarget puts in its file_sd directory; give
 * `configYaml` and `ruleFiles` to run it with other config (the repo's
 * deploy/prometheus files, say). Resolves when /-/ready answers 200.
 */
export async function startPrometheus(options: StartPrometheusOptions): Promise<PrometheusServer> {
  const binary = ensureCommand('prometheus', options.log);
  fs.mkdirSync(options.dir, { recursive: true });
  const fileSdDir = path.join(options.dir, 'file_sd');
  const configDir = path.join(options.dir, 'config');
  fs.mkdirSync(fileSdDir, { recursive: true });
  const configFile = writeConfig(configDir, fileSdDir, options);
  const logFile = path.join(options.dir, 'prometheus.log');
  const started = await startWithRetry('Prometheus', async (attemptNo) => {
    const port = await freePort();
    const proc = launch({
      name: 'prometheus',
      command: binary,
      args: [
        `--config.file=${configFile}`,
        `--web.listen-address=127.0.0.1:${port}`,
        `--storage.tsdb.path=${path.join(options.dir, `tsdb-${attemptNo}`)}`,
        '--web.enable-lifecycle',
        '--storage.tsdb.retention.time=1d',
      ],
      logFile,
      cwd: options.dir,
      detached: options.detached ?? false,
    });
    const url = `http://127.0.0.1:${port}`;
    const ready = waitFor(
      async () => ((await fetch(`${url}/-/ready`)).status === 200 ? url : undefined),
      {
        what: `Prometheus ${url}/-/ready`,
        timeoutMs: 60_000,
        intervalMs: 100,
        giveUpIf: () => diedReason(proc),
      },
    );
    return { process: proc, ready };
  });
  const url = started.info;
  return {
    url,
    fileSdDir,
    configDir,
    process: started.process,
    addScrapeTarget: (job, hostPort, labels) => addScrapeTarget(fileSdDir, job, hostPort, labels),
    async reload(config) {
      writeConfig(configDir, fileSdDir, config);
      const response = await fetch(`${url}/-/reload`, { method: 'POST' });
      if (!response.ok) {
        throw new TsadError(
          'TSAD_ERR_SERVICE_START',
          `Prometheus rejected the new config (${response.status}): ${await response.text()}`,
          { retriable: false },
        );
      }
    },
    stop: () => started.process.stop(),
  };
}
