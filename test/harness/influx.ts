import fs from 'node:fs';
import path from 'node:path';
import { ensureCommand } from './install.ts';
import { freePorts } from './ports.ts';
import { launch, type ServerProcess } from './process.ts';
import { diedReason, startWithRetry } from './server-start.ts';
import { waitFor } from './wait.ts';

/** A running InfluxDB 1.x server. */
export interface InfluxServer {
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  process: ServerProcess;
  dir: string;
}

export interface StartInfluxOptions {
  /** Directory for config, meta/data/wal and the log file `influxdb.log`; created if missing. */
  dir: string;
  detached?: boolean;
  log?: (line: string) => void;
}

/**
 * Starts Debian's `influxd` (InfluxDB 1.x) with a generated config: HTTP and
 * the backup RPC port on free loopback ports, all state under `dir`, usage
 * reporting and the internal monitor store off. Resolves when /ping answers.
 */
export async function startInflux(options: StartInfluxOptions): Promise<InfluxServer> {
  const influxd = ensureCommand('influxd', options.log);
  fs.mkdirSync(options.dir, { recursive: true });
  const logFile = path.join(options.dir, 'influxdb.log');
  const started = await startWithRetry('InfluxDB', async (attemptNo) => {
    const [httpPort, rpcPort] = (await freePorts(2)) as [number, number];
    const state = path.join(options.dir, `state-${attemptNo}`);
    const configFile = path.join(options.dir, 'influxdb.conf');
    fs.writeFileSync(configFile, influxConfig({ stateDir: state, httpPort, rpcPort }));
    const proc = launch({
      name: 'influxdb',
      command: influxd,
      args: ['-config', configFile],
      logFile,
      cwd: options.dir,
      detached: options.detached ?? false,
    });
    const url = `http://127.0.0.1:${httpPort}`;
    const ready = waitFor(
      async () => ((await fetch(`${url}/ping`)).status === 204 ? url : undefined),
      {
        what: `InfluxDB ${url}/ping`,
        timeoutMs: 60_000,
        intervalMs: 100,
        giveUpIf: () => diedReason(proc),
      },
    );
    return { process: proc, ready };
  });
  return { url: started.info, process: started.process, dir: options.dir };
}

/**
 * The influxd configuration the harness runs: both ports on loopback, all
 * state under `stateDir`, reporting, query and HTTP logs off.
 */
export function influxConfig(o: { stateDir: string; httpPort: number; rpcPort: number }): string {
  return `reporting-disabled = true
bind-address = "127.0.0.1:${o.rpcPort}"

[meta]
  dir = "${o.stateDir}/meta"

[data]
  dir = "${o.stateDir}/data"
  wal-dir = "${o.stateDir}/wal"
  query-log-enabled = false

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:${o.httpPort}"
  auth-enabled = false
  log-enabled = false

[continuous_queries]
  log-enabled = false
`;
}
