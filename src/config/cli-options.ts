/**
 * The command-line side of the configuration, shared by every command that
 * reads it (`run`, `config print`, `doctor`, ...): `--config <file>`, a
 * repeatable `--set <path=value>` that reaches every setting, and shortcut
 * flags bound to a setting path whose help shows the schema default. Flags
 * are the last and strongest source (defaults < file < env < flags).
 */
import type { Command } from 'commander';
import { type LoadConfigOptions, loadConfig } from './load-config.ts';
import type { Config } from './schema.ts';
import { parseSettingText, settingAt } from './settings.ts';

/** A flag bound to one setting: `{ flags: '--brokers <list>', path: 'kafka.brokers' }`. */
export interface ConfigFlag {
  /** Commander flags text; without `<arg>` the flag sets a boolean setting to true. */
  flags: string;
  /** Dotted path of the setting it sets. */
  path: string;
  /** What the flag means for this command, where the setting's own description (the daemon's) would mislead. */
  description?: string;
}

/** Shortcut flags most commands that talk to services want. */
export const COMMON_CONFIG_FLAGS: readonly ConfigFlag[] = [
  { flags: '--brokers <list>', path: 'kafka.brokers' },
  { flags: '--log-level <level>', path: 'log.level' },
];

/** The raw options commander hands a command that used addConfigOptions. */
export interface ConfigCommandOptions {
  config?: string;
  set?: string[];
  [flag: string]: unknown;
}

/**
 * Adds `--config`, `--set` and the given shortcut flags to a command. The
 * shortcuts get no commander default (that would always override the file and
 * the environment); the schema default is shown in their help text instead.
 */
export function addConfigOptions(command: Command, shortcuts: readonly ConfigFlag[] = []): Command {
  command
    .option('-c, --config <file>', 'YAML config file (default: $TSAD_CONFIG, else none)')
    .option(
      '--set <path=value>',
      'set any setting, e.g. --set window.size=64 (repeatable; see docs/configuration.md)',
      (item: string, previous: string[] = []) => [...previous, item],
    );
  for (const shortcut of shortcuts) {
    const setting = settingAt(shortcut.path);
    if (setting === undefined)
      throw new Error(`config flag ${shortcut.flags}: no setting ${shortcut.path}`);
    const shown =
      setting.defaultValue === undefined ? 'unset' : JSON.stringify(setting.defaultValue);
    command.option(
      shortcut.flags,
      `${shortcut.description ?? setting.description} [${shortcut.path}, ${setting.envVar}] (default: ${shown})`,
    );
  }
  return command;
}

/**
 * Turns the options of a command built with addConfigOptions into loadConfig's
 * file and flags. `--set` entries naming no setting are passed through so that
 * validation reports them with a "did you mean".
 */
export function configSourcesFromOptions(
  options: ConfigCommandOptions,
  shortcuts: readonly ConfigFlag[] = [],
): Pick<LoadConfigOptions, 'configFile' | 'flags'> {
  const flags: Record<string, unknown> = {};
  for (const item of options.set ?? []) {
    const eq = item.indexOf('=');
    const path = eq < 0 ? item : item.slice(0, eq);
    const text = eq < 0 ? 'true' : item.slice(eq + 1);
    const setting = settingAt(path);
    setPath(flags, path.split('.'), setting === undefined ? text : parseSettingText(setting, text));
  }
  for (const shortcut of shortcuts) {
    const value = options[attributeName(shortcut.flags)];
    const setting = settingAt(shortcut.path);
    if (value === undefined || setting === undefined) continue;
    setPath(
      flags,
      setting.keys,
      typeof value === 'string' ? parseSettingText(setting, value) : value,
    );
  }
  return { configFile: options.config, flags };
}

/**
 * Loads the configuration for a command: its options, then `env`. A bad
 * configuration throws TSAD_ERR_CONFIG_INVALID, which runCli turns into exit
 * code 2 with every problem on stderr.
 */
export function loadCommandConfig(
  options: ConfigCommandOptions,
  shortcuts: readonly ConfigFlag[] = [],
  env?: Readonly<Record<string, string | undefined>>,
): Config {
  return loadConfig({
    ...configSourcesFromOptions(options, shortcuts),
    ...(env === undefined ? {} : { env }),
  });
}

/** Commander's attribute name of a flag: `--log-level <x>` → `logLevel`. */
function attributeName(flags: string): string {
  const long = flags.split(/[ ,|]+/).find((part) => part.startsWith('--')) ?? flags;
  return long.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function setPath(tree: Record<string, unknown>, keys: readonly string[], value: unknown): void {
  let node = tree;
  keys.forEach((key, i) => {
    if (i === keys.length - 1) {
      node[key] = value;
      return;
    }
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  });
}
