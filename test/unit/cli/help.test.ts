import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import type { Command } from 'commander';
import { buildProgram, runCli } from '../../../src/cli/cli.ts';

function commands(root: Command): Command[] {
  return [root, ...root.commands.flatMap(commands)];
}

async function help(argv: string[]): Promise<string> {
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (c) => {
    out += c;
  });
  const code = await runCli([...argv, '--help'], { stdout, stderr: new PassThrough() });
  assert.equal(code, 0);
  return out;
}

describe('tsad --help', () => {
  const program = buildProgram({
    shutdownSignal: new AbortController().signal,
    stdout: new PassThrough(),
    stderr: new PassThrough(),
  });

  it('lists every command', async () => {
    const text = await help([]);
    for (const command of program.commands)
      assert.match(text, new RegExp(`\\n  ${command.name()}\\b`));
  });

  it('states the default (or that it is required) of every option of every command', async () => {
    for (const command of commands(program)) {
      if (command.commands.length > 0 && command !== program) continue; // a group: its leaves are checked
      const path: string[] = [];
      for (let c: Command | null = command; c !== null && c !== program; c = c.parent)
        path.unshift(c.name());
      const text = await help(path);
      const optionLines = text.split('Options:')[1] ?? '';
      for (const option of command.options) {
        if (option.long === '--help' || option.long === '--version') continue;
        const start = optionLines.indexOf(option.flags);
        assert.ok(start >= 0, `${path.join(' ')} ${option.flags} listed`);
        const next = command.options
          .map((o) => optionLines.indexOf(o.flags, start + option.flags.length))
          .filter((i) => i > start);
        const entry = optionLines.slice(start, next.length > 0 ? Math.min(...next) : undefined);
        assert.match(
          entry.replace(/\s+/g, ' '),
          /\bdefault\b|\(required\)/,
          `tsad ${path.join(' ')} ${option.flags}`,
        );
      }
    }
  });

  it('prints the version of package.json with --version and -V, exit 0', async () => {
    const { version } = JSON.parse(
      readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    for (const flag of ['--version', '-V']) {
      const stdout = new PassThrough();
      let out = '';
      stdout.on('data', (c) => {
        out += c;
      });
      const code = await runCli([flag], { stdout, stderr: new PassThrough() });
      assert.equal(code, 0);
      assert.equal(out, `${version}\n`);
    }
  });

  it('says a flag is off or on by default, never false or true', async () => {
    for (const command of commands(program)) {
      if (command.commands.length > 0 && command !== program) continue;
      const path: string[] = [];
      for (let c: Command | null = command; c !== null && c !== program; c = c.parent)
        path.unshift(c.name());
      const text = (await help(path)).replace(/\s+/g, ' ');
      assert.doesNotMatch(text, /\(default: (false|true)\)/, `tsad ${path.join(' ')} --help`);
    }
    assert.match((await help(['train'])).replace(/\s+/g, ' '), /--worker .*\(default: off\)/);
  });

  it("describes --brokers of simulate and --registry of models list for those commands, not as the daemon's settings", async () => {
    const simulate = (await help(['simulate'])).replace(/\s+/g, ' ');
    assert.match(
      simulate,
      /--brokers <list> Kafka bootstrap brokers as host:port to produce the readings to \(needed\)/,
    );
    assert.doesNotMatch(simulate, /--brokers <list>[^[]*embedded mode/);
    const list = (await help(['models', 'list'])).replace(/\s+/g, ' ');
    assert.match(list, /--registry <dir> The model registry to read/);
    assert.doesNotMatch(list, /live in memory only/);
  });
});
