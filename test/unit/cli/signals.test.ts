import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** How long a stopped command may take to exit; generous, the machine may be busy. */
const EXIT_WITHIN_MS = 30_000;

interface Stopped {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `tsad ...args` as a child process, sends `signal` once stderr matches
 * `ready`, and resolves when the process exits. Fails if it has not exited
 * EXIT_WITHIN_MS after the signal (then it is killed).
 */
function stopWhen(args: string[], ready: RegExp, signal: NodeJS.Signals): Promise<Stopped> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/tsad.mjs', ...args], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (chunk) => {
      stdout += String(chunk);
    });
    child.stderr.on('data', (chunk) => {
      stderr += String(chunk);
      if (timer === undefined && ready.test(stderr)) {
        child.kill(signal);
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`still running ${EXIT_WITHIN_MS} ms after ${signal}:\n${stderr}`));
        }, EXIT_WITHIN_MS);
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
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
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsad-signals-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

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
      /training: 2\//,
      'SIGTERM',
    );
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /tsad: stopped by SIGTERM before finishing/);
    assert.equal(fs.existsSync(out), false);
  });
});
