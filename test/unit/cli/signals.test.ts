import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../../harness/temp-dir.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** How long a stopped command may take to exit; generous, the machine may be busy. */
const EXIT_WITHIN_MS = 30_000;

interface Stopped {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `tsad ...args` as a child process, sends `signal` once `ready(stderr)`
 * holds (checked on every stderr chunk and every 100 ms), and resolves when
 * the process exits. Fails if it has not exited EXIT_WITHIN_MS after the
 * signal (then it is killed).
 */
function stopWhen(
  args: string[],
  ready: (stderr: string) => boolean,
  signal: NodeJS.Signals,
): Promise<Stopped> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/tsad.mjs', ...args], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    let deadline: NodeJS.Timeout | undefined;
    const check = (): void => {
      if (deadline !== undefined || !ready(stderr)) return;
      clearInterval(poll);
      child.kill(signal);
      deadline = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`still running ${EXIT_WITHIN_MS} ms after ${signal}:\n${stderr}`));
      }, EXIT_WITHIN_MS);
    };
    const poll = setInterval(check, 100);
    child.stdout.on('data', (chunk) => {
      stdout += String(chunk);
    });
    child.stderr.on('data', (chunk) => {
      stderr += String(chunk);
      check();
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(poll);
      clearTimeout(deadline);
      resolve({ code, stdout, stderr });
    });
  });
}

function writeSine(file: string, rows: number, header: string, timestamp: (i: number) => string) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const lines = [header];
  for (let i = 0; i < rows; i++) lines.push(`${timestamp(i)},${Math.sin(i / 5)}`);
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
}

let dir: string;
before(() => {
  dir = tempDir('tsad-signals-');
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('SIGHUP stops the daemon gracefully', () => {
  test('tsad run (embedded) runs its shutdown steps and exits 0', async () => {
    const run = await stopWhen(
      ['run', '--metrics-port', '0'],
      (stderr) => stderr.includes('daemon started'),
      'SIGHUP',
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /"reason":"signal SIGHUP"/);
    assert.match(run.stderr, /"msg":"daemon stopped"/);
  });
});

describe('SIGTERM stops a long-running command', () => {
  test('tsad train stops at the next epoch, writes no model and exits 1', async () => {
    const csv = path.join(dir, 'train.csv');
    const out = path.join(dir, 'model');
    writeSine(csv, 300, 'timestamp,value', (i) => String(1_700_000_000_000 + i * 1000));
    const run = await stopWhen(
      [
        ...['train', '--input', csv, '--window', '16', '--out', out],
        ...['--epochs', '100000', '--patience', '100000', '--hidden', '8', '--code-size', '4'],
      ],
      (stderr) => /training: 2\//.test(stderr),
      'SIGTERM',
    );
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /tsad: stopped by SIGTERM before finishing/);
    assert.equal(fs.existsSync(out), false);
  });

  test('tsad backtest stops within a file, keeps the results of the files before and exits 1', async () => {
    const input = path.join(dir, 'nab');
    const out = path.join(dir, 'nab-out');
    const config = path.join(dir, 'backtest.yaml');
    const nabTime = (i: number) =>
      new Date(Date.UTC(2024, 0, 1) + i * 300_000).toISOString().slice(0, 19).replace('T', ' ');
    writeSine(path.join(input, 'a', 'short.csv'), 200, 'timestamp,value', nabTime);
    // One window per scoring call: the second file takes far longer than the first.
    writeSine(path.join(input, 'b', 'long.csv'), 5000, 'timestamp,value', nabTime);
    fs.writeFileSync(
      config,
      'nab:\n  model: { windowSize: 8, hiddenUnits: [4], codeSize: 2, maxEpochs: 1 }\n' +
        '  scoreBatch: 1\n',
    );
    const first = path.join(out, 'tsad', 'a', 'tsad_short.csv');
    const run = await stopWhen(
      ['backtest', '--benchmark', 'nab', '--input', input, '--out', out, '--config', config],
      () => fs.existsSync(first),
      'SIGTERM',
    );
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /tsad: stopped by SIGTERM before finishing/);
    assert.equal(run.stdout, '');
    assert.equal(fs.existsSync(path.join(out, 'tsad', 'b', 'tsad_long.csv')), false);
  });
});
