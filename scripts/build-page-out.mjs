#!/usr/bin/env node
// Builds native/page-out (one madvise call, see native/page-out/page_out.c)
// with node-gyp after `npm install`. The daemon uses it to hand the pages of
// the TensorFlow library that only its loading touched back to the kernel
// (src/model/library-pages.ts, docs/performance.md). Optional: on a machine
// without a C compiler, or not on Linux, it prints why and exits 0, and the
// daemon runs as before with a larger resident set. Set
// TSAD_SKIP_PAGE_OUT_BUILD=1 to skip it.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const addonDir = path.join(projectRoot, 'native', 'page-out');

function log(message) {
  console.log(`[tsad install] ${message}`);
}

/** npm names its node-gyp in lifecycle scripts; otherwise the one npm bundles beside node. */
function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.resolve(
      path.dirname(process.execPath),
      '..',
      'lib',
      'node_modules',
      'npm',
      'node_modules',
      'node-gyp',
      'bin',
      'node-gyp.js',
    ),
  ];
  return candidates.find((candidate) => candidate && fs.existsSync(candidate));
}

// Node's headers: a system Node has them under /usr; otherwise node-gyp fetches them.
function nodeDir() {
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

function main() {
  if (process.env.TSAD_SKIP_PAGE_OUT_BUILD === '1')
    return log('page-out addon: skipped (TSAD_SKIP_PAGE_OUT_BUILD=1)');
  if (process.platform !== 'linux') return log('page-out addon: not built (Linux only)');
  const gyp = nodeGyp();
  if (!gyp) return log('page-out addon: not built (node-gyp not found)');
  const env = { ...process.env };
  const dir = process.env.npm_config_nodedir ?? nodeDir();
  if (dir) env.npm_config_nodedir = dir;
  const result = spawnSync(process.execPath, [gyp, 'rebuild'], {
    cwd: addonDir,
    env,
    encoding: 'utf8',
  });
  if (result.status === 0)
    return log('page-out addon built (native/page-out/build/Release/page_out.node)');
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`
    .trim()
    .split('\n')
    .slice(-5)
    .join('\n');
  log(
    `page-out addon: not built (node-gyp exit ${result.status}); the daemon runs without it:\n${output}`,
  );
}

main();
