import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { EXIT, runCli } from '../../../src/cli/cli.ts';

let dir: string;

function sink(): { stream: Writable; text: () => string } {
  let text = '';
  return {
    stream: new Writable({
      write(chunk, _encoding, done) {
        text += String(chunk);
        done();
      },
    }),
    text: () => text,
  };
}

async function tsad(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = sink();
  const err = sink();
  const code = await runCli(argv, { stdout: out.stream, stderr: err.stream });
  return { code, stdout: out.text(), stderr: err.text() };
}

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tsad-models-cli-'));
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('tsad models list', () => {
  test('a missing registry is an error and is not created', async () => {
    const missing = path.join(dir, 'typo');
    const r = await tsad('models', 'list', '--registry', missing);
    assert.equal(r.code, EXIT.failure, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `tsad: model registry ${missing} does not exist\n`);
    await assert.rejects(fs.stat(missing), { code: 'ENOENT' });
  });

  test('a registry path that is a regular file is refused as not a directory', async () => {
    const file = path.join(dir, 'not-a-registry.txt');
    await fs.writeFile(file, 'hello\n');
    const r = await tsad('models', 'list', '--registry', file);
    assert.equal(r.code, EXIT.failure, r.stderr);
    assert.equal(r.stderr, `tsad: model registry ${file} is not a directory\n`);
    assert.equal(await fs.readFile(file, 'utf8'), 'hello\n');
  });

  test('an empty registry lists no models', async () => {
    const empty = path.join(dir, 'empty');
    await fs.mkdir(empty);
    const r = await tsad('models', 'list', '--registry', empty);
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.equal(r.stdout, `no models in ${empty}\n`);
  });
});
