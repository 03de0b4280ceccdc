/**
 * Where the shared benchmark data lives for tests: `../shared/benchmarks`
 * beside the repository (CI checks it out there). Tests that need it skip
 * with this message when it is absent.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Absolute path of ../shared/benchmarks relative to the repository root. */
export const BENCHMARKS_DIR = fileURLToPath(
  new URL('../../../../shared/benchmarks/', import.meta.url),
);

/** `false` when the benchmarks are present, else the reason to skip (for `test(..., { skip })`). */
export const skipWithoutBenchmarks: string | false = fs.existsSync(BENCHMARKS_DIR)
  ? false
  : `benchmark data not found at ${BENCHMARKS_DIR} (expected ../shared/benchmarks beside the repo)`;
