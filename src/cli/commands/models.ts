/**
 * `tsad models list`: the versions in the model registry, which one is active,
 * and the promotion/rejection history, so an operator can see what retraining
 * did and which model the daemon will load on restart.
 */
import type { Command } from 'commander';
import {
  addConfigOptions,
  type ConfigCommandOptions,
  loadCommandConfig,
} from '../../config/cli-options.ts';
import { TsadError } from '../../errors.ts';
import { openModelRegistry, type RegistryEntry } from '../../model/registry.ts';
import type { CliContext } from '../cli.ts';
import { EXIT } from '../context.ts';

const REGISTRY_FLAG = {
  flags: '--registry <dir>',
  path: 'model.registryDir',
  description: "The model registry to read (a daemon's model.registryDir; needed).",
} as const;

/** Adds `tsad models list [--registry dir] [--json]` to the program. */
export function registerModels(program: Command, context: CliContext): void {
  const models = program.command('models').description('inspect the model registry');
  addConfigOptions(
    models
      .command('list')
      .description('list model versions (newest first), the active one marked')
      .option('--json', 'print JSON (versions and history) instead of a table', false)
      .option('--history', 'also print the promotion/rejection history', false),
    [REGISTRY_FLAG],
  ).action(async (options: ConfigCommandOptions & { json: boolean; history: boolean }) => {
    const config = loadCommandConfig(options, [REGISTRY_FLAG]);
    const registryDir = config.model.registryDir;
    if (registryDir === undefined) {
      throw new TsadError(
        'TSAD_ERR_CONFIG_INVALID',
        'no model registry configured: pass --registry <dir> or set model.registryDir',
      );
    }
    const registry = await openModelRegistry(registryDir, config.retraining.keepVersions);
    const { versions, unreadable, activeProblem } = await registry.list();
    // As `tsad doctor` does: the problem is part of the report, and the exit
    // code says the daemon would not start with this registry. Unreadable
    // entries alone exit 0: the daemon goes on past them.
    if (activeProblem !== undefined) process.exitCode = EXIT.failure;
    // Read only when shown, so an unreadable history.jsonl does not stop a plain listing.
    const history =
      options.json || options.history ? await registry.history() : { events: [], unreadable: [] };
    unreadable.push(...history.unreadable);
    if (options.json) {
      const json = {
        registry: registry.dir,
        activeProblem: activeProblem ?? null,
        versions,
        unreadable,
        history: history.events,
      };
      context.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
      return;
    }
    if (versions.length === 0) {
      context.stdout.write(`no models in ${registry.dir}\n`);
    } else {
      writeTable(context, versions);
    }
    if (activeProblem !== undefined) {
      context.stdout.write(`problem: ${activeProblem}; tsad run will not start with it\n`);
    }
    for (const entry of unreadable) {
      const where = entry.line === undefined ? entry.file : `${entry.file}:${entry.line}`;
      context.stdout.write(`unreadable, skipped: ${where}: ${entry.reason}\n`);
    }
    if (options.history) {
      for (const e of history.events) {
        context.stdout.write(
          `${e.at}  ${e.event.padEnd(10)}  ${e.version}${e.reason ? `  (${e.reason})` : ''}\n`,
        );
      }
    }
  });
}

function writeTable(context: CliContext, versions: RegistryEntry[]): void {
  const rows = versions.map((v) => [
    v.active ? '*' : ' ',
    v.version,
    v.createdAt,
    String(v.windowSize),
    v.channels.join(','),
    v.valLoss === null ? '-' : v.valLoss.toPrecision(4),
    v.trainingWindows === null ? '-' : String(v.trainingWindows),
  ]);
  const header = [' ', 'VERSION', 'CREATED', 'WINDOW', 'CHANNELS', 'VAL_LOSS', 'WINDOWS'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [header, ...rows]) {
    context.stdout.write(
      `${row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd()}\n`,
    );
  }
}
