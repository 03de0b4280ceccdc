#!/usr/bin/env node
// Runs the test suite with node's built-in test runner (its closing summary
// is what CI reads). `--unit` runs only test/unit.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

function findTests(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => path.join(dir, f))
    .sort();
}

const unitOnly = process.argv.includes('--unit');
const files = [...findTests('test/unit'), ...(unitOnly ? [] : findTests('test/integration'))];
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
