/**
 * `tsad config print` shows the effective configuration (defaults, file,
 * environment and flags merged) with secrets masked, so an operator can see
 * what the daemon would run with; `tsad config docs` prints the reference of
 * every setting (the text of docs/configuration.md).
 */
import { type Command, Option } from 'commander';
import {
  addConfigOptions,
  COMMON_CONFIG_FLAGS,
  type ConfigCommandOptions,
  loadCommandConfig,
} from '../../config/cli-options.ts';
import { configReferenceMarkdown, configToYaml, maskSecrets } from '../../config/print-config.ts';
import type { CliContext } from '../cli.ts';

/** Adds `tsad config print` and `tsad config docs` to the program. */
export function registerConfig(program: Command, context: CliContext): void {
  const config = program.command('config').description('show the effective configuration');

  const print = config
    .command('print')
    .description('print the effective configuration (secrets masked); exit 2 if it is invalid')
    .addOption(
      new Option('--format <format>', 'output format').choices(['yaml', 'json']).default('yaml'),
    );
  addConfigOptions(print, COMMON_CONFIG_FLAGS).action(
    (options: ConfigCommandOptions & { format: string }) => {
      const effective = loadCommandConfig(options, COMMON_CONFIG_FLAGS);
      context.stdout.write(
        options.format === 'json'
          ? `${JSON.stringify(maskSecrets(effective), null, 2)}\n`
          : configToYaml(effective),
      );
    },
  );

  config
    .command('docs')
    .description('print the Markdown reference of every setting (docs/configuration.md)')
    .action(() => {
      context.stdout.write(configReferenceMarkdown());
    });
}
