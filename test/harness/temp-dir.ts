/**
 * Temporary directories for tests: created under the system's temporary
 * directory and removed when the importing test file's tests have all run,
 * pass or fail, so runs leave nothing behind. (A process 'exit' handler is
 * not enough: the test runner does not always let a file's process exit.)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';

const created: string[] = [];

// Registered when a test file first imports this module, so it is a hook of
// the file's root and runs after every test of the file.
after(() => {
  for (const dir of created) fs.rmSync(dir, { recursive: true, force: true });
});

/** A new empty directory named `<prefix><random>`, removed after the file's tests. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  created.push(dir);
  return dir;
}
