import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { TsadError } from '../../src/errors.ts';

/** The Debian package that provides each command the harness runs. */
export const DEBIAN_PACKAGES = {
  java: 'default-jre-headless',
  mvn: 'maven',
  influxd: 'influxdb',
  prometheus: 'prometheus',
} as const;

export type HarnessCommand = keyof typeof DEBIAN_PACKAGES;

const POLICY_RC_D = '/usr/sbin/policy-rc.d';
let aptUpdated = false;

/** Absolute path of `command` on PATH, or undefined. */
export function which(command: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, command);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * Makes sure `command` is installed. As root a missing command is installed
 * with apt-get (after one `apt-get update` per process); anyone else gets an
 * error naming the package, because the harness should not ask for sudo.
 * A policy-rc.d that forbids service starts is in place during the install,
 * so Debian's influxdb and prometheus packages do not start system services
 * on their default ports (8086, 9090) behind our back.
 */
export function ensureCommand(
  command: HarnessCommand,
  log: (line: string) => void = () => {},
): string {
  const found = which(command);
  if (found !== undefined) return found;
  const pkg = DEBIAN_PACKAGES[command];
  if (process.getuid?.() !== 0) {
    throw new TsadError(
      'TSAD_ERR_SERVICE_START',
      `'${command}' not found: install the Debian package '${pkg}' (sudo apt-get install -y ${pkg}) or point the tests at an existing server (see docs/testing.md)`,
      { retriable: false },
    );
  }
  log(`installing Debian package ${pkg} for '${command}'`);
  const ownPolicy = !fs.existsSync(POLICY_RC_D);
  if (ownPolicy)
    fs.writeFileSync(
      POLICY_RC_D,
      '#!/bin/sh\n# written by the tsad test harness during apt-get install\nexit 101\n',
      { mode: 0o755 },
    );
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    if (!aptUpdated) {
      run('apt-get', ['update', '-qq'], env);
      aptUpdated = true;
    }
    run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', pkg], env);
  } finally {
    if (ownPolicy) fs.rmSync(POLICY_RC_D, { force: true });
  }
  const installed = which(command);
  if (installed === undefined) {
    throw new TsadError(
      'TSAD_ERR_SERVICE_START',
      `installed '${pkg}' but '${command}' is still not on PATH`,
      {
        retriable: false,
      },
    );
  }
  return installed;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): void {
  const result = spawnSync(command, args, { env, stdio: ['ignore', 2, 2] });
  if (result.status !== 0) {
    throw new TsadError(
      'TSAD_ERR_SERVICE_START',
      `${command} ${args.join(' ')} failed with exit code ${result.status}`,
      {
        retriable: false,
      },
    );
  }
}
