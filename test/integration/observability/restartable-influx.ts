// An InfluxDB of this test file's own that can be stopped and started again on
// the same port with the same data, to simulate an outage. The run's shared
// InfluxDB (test/harness) must not be stopped under other tests' feet, and
// the harness's startInflux picks new ports at each start, which a sink with
// a fixed URL cannot follow. Built from the harness's process helpers.
import fs from 'node:fs';
import path from 'node:path';
import { influxConfig } from '../../harness/influx.ts';
import { ensureCommand } from '../../harness/install.ts';
import { freePorts } from '../../harness/ports.ts';
import { launch, type ServerProcess, tail } from '../../harness/process.ts';
import { tempDir } from '../../harness/temp-dir.ts';
import { waitFor } from '../../harness/wait.ts';

export interface RestartableInflux {
  url: string;
  /** Starts influxd (again) on the same ports and data; resolves when /ping answers. */
  start(): Promise<void>;
  /** Stops influxd (SIGTERM); the data stays for the next start. */
  stop(): Promise<void>;
  /** Stops influxd and removes its directory. */
  destroy(): Promise<void>;
}

/** Creates (and starts) an InfluxDB 1.x under a fresh temporary directory. */
export async function startRestartableInflux(): Promise<RestartableInflux> {
  const influxd = ensureCommand('influxd');
  const dir = tempDir('tsad-obs-influx-');
  const [httpPort, rpcPort] = (await freePorts(2)) as [number, number];
  const configFile = path.join(dir, 'influxdb.conf');
  fs.writeFileSync(configFile, influxConfig({ stateDir: dir, httpPort, rpcPort }));
  const url = `http://127.0.0.1:${httpPort}`;
  const logFile = path.join(dir, 'influxdb.log');
  let proc: ServerProcess | undefined;

  const influx: RestartableInflux = {
    url,
    async start() {
      if (proc?.running()) return;
      const started = launch({
        name: 'influxdb',
        command: influxd,
        args: ['-config', configFile],
        logFile,
        cwd: dir,
      });
      proc = started;
      await waitFor(
        async () => {
          if (!started.running()) throw new Error(`influxd exited:\n${tail(logFile)}`);
          return (await fetch(`${url}/ping`)).status === 204 ? true : undefined;
        },
        { what: `InfluxDB ${url}/ping`, timeoutMs: 60_000, intervalMs: 100 },
      );
    },
    async stop() {
      await proc?.stop(10_000);
    },
    async destroy() {
      await proc?.stop(10_000);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  await influx.start();
  return influx;
}

/** Runs an InfluxQL query over HTTP; returns the series of the first statement (throws on any error). */
export async function influxQuery(
  url: string,
  database: string,
  query: string,
): Promise<{ name?: string; columns: string[]; values: unknown[][] }[]> {
  const target = new URL('/query', url);
  target.searchParams.set('db', database);
  target.searchParams.set('q', query);
  target.searchParams.set('epoch', 'ms');
  const response = await fetch(target);
  const body = (await response.json()) as {
    error?: string;
    results?: {
      error?: string;
      series?: { name?: string; columns: string[]; values: unknown[][] }[];
    }[];
  };
  const result = body.results?.[0];
  if (!response.ok || body.error || result === undefined || result.error) {
    throw new Error(`InfluxQL ${query} failed: ${body.error ?? result?.error ?? response.status}`);
  }
  return result.series ?? [];
}
