#!/usr/bin/env node
// Makes @tensorflow/tfjs-node's native binding work after `npm install`.
//
// npm 11 does not run a dependency's install script unless allowed, so this
// postinstall step does it. It tries, in order:
//   1. nothing to do: the binding already loads;
//   2. tfjs-node's own install script, which downloads libtensorflow and a
//      prebuilt addon (works for users who can reach that download site);
//   3. provisioning libtensorflow from the `tensorflow-cpu` wheel on PyPI
//      (fetched with pip into a cache, so later installs skip the download)
//      and building the binding from source with node-gyp.
// If all fail it prints a loud warning and exits 0: tsad then runs on the
// WASM or pure-JS backend, and `tsad doctor` says so. Set
// TSAD_SKIP_TENSORFLOW_INSTALL=1 to skip this step entirely.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const WHEEL_NAME = 'tensorflow-cpu';
const WHEEL_VERSION = process.env.TSAD_TF_WHEEL_VERSION ?? '2.21.0';
// The version tfjs-node 4.22 expects in its library file names.
const TFJS_LIB_VERSION = '2.9.1';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const binDir = path.join(projectRoot, 'node_modules', '.bin');

function log(message) {
  console.log(`[tsad install] ${message}`);
}

function warnLoudly(lines) {
  const bar = '!'.repeat(78);
  console.warn(`\n${bar}\n${lines.map((l) => `!! ${l}`).join('\n')}\n${bar}\n`);
}

function findTfjsNode() {
  const dir = path.join(projectRoot, 'node_modules', '@tensorflow', 'tfjs-node');
  return fs.existsSync(path.join(dir, 'package.json')) ? dir : undefined;
}

/** Returns undefined when the native binding loads, else the reason it does not. */
function bindingError() {
  const probe = spawnSync(
    process.execPath,
    ['-e', "const tf=require('@tensorflow/tfjs-node');tf.tensor([1,2]).square().dataSync();"],
    { cwd: projectRoot, encoding: 'utf8', env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' } },
  );
  if (probe.status === 0) return undefined;
  const lines = `${probe.stderr}`.split('\n').filter((l) => /Error|error:/.test(l));
  return lines[0]?.trim() ?? `exit code ${probe.status}`;
}

function buildEnv() {
  return {
    ...process.env,
    PATH: `${binDir}${path.delimiter}${process.env.PATH ?? ''}`,
    npm_config_nodedir: process.env.npm_config_nodedir ?? nodeDir(),
  };
}

// node-gyp needs Node's headers; a system Node has them under /usr.
function nodeDir() {
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : '';
}

function runTfjsInstall(tfjsDir, timeoutMs) {
  const result = spawnSync(process.execPath, ['scripts/install.js'], {
    cwd: tfjsDir,
    env: buildEnv(),
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  return { ok: result.status === 0, output };
}

function cacheDir() {
  if (process.env.TSAD_CACHE_DIR) return process.env.TSAD_CACHE_DIR;
  const base = process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache');
  return path.join(base, 'tsad');
}

function findPython() {
  for (const candidate of [process.env.PYTHON, 'python3', 'python']) {
    if (!candidate) continue;
    const r = spawnSync(candidate, ['-m', 'pip', '--version'], { encoding: 'utf8' });
    if (r.status === 0) return candidate;
  }
  return undefined;
}

/** Downloads the wheel into the cache unless it is there already; returns its path. */
function ensureWheel(python) {
  const dir = path.join(cacheDir(), 'wheels');
  fs.mkdirSync(dir, { recursive: true });
  const prefix = `${WHEEL_NAME.replace('-', '_')}-${WHEEL_VERSION}-`;
  const cached = fs.readdirSync(dir).find((f) => f.startsWith(prefix) && f.endsWith('.whl'));
  if (cached) {
    log(`using cached wheel ${path.join(dir, cached)}`);
    return path.join(dir, cached);
  }
  log(`downloading ${WHEEL_NAME}==${WHEEL_VERSION} from PyPI into ${dir} (about 275 MB, once)`);
  // Pin platform and Python version so the same wheel is chosen whatever
  // Python runs pip: only its shared libraries and C headers are used.
  const r = spawnSync(
    python,
    [
      '-m',
      'pip',
      'download',
      '--no-deps',
      '--only-binary=:all:',
      '--platform',
      'manylinux_2_27_x86_64',
      '--python-version',
      '311',
      '-d',
      dir,
      `${WHEEL_NAME}==${WHEEL_VERSION}`,
    ],
    { stdio: 'inherit' },
  );
  if (r.status !== 0) throw new Error(`pip download failed with exit code ${r.status}`);
  const wheel = fs.readdirSync(dir).find((f) => f.startsWith(prefix) && f.endsWith('.whl'));
  if (!wheel) throw new Error(`pip reported success but no ${prefix}*.whl is in ${dir}`);
  return path.join(dir, wheel);
}

// Python's zipfile streams members to disk; the library alone is ~790 MB.
const EXTRACT_PY = `
import sys, zipfile, os, shutil
wheel, deps = sys.argv[1], sys.argv[2]
lib = os.path.join(deps, 'lib'); inc = os.path.join(deps, 'include')
os.makedirs(lib, exist_ok=True); os.makedirs(inc, exist_ok=True)
header_roots = ('tensorflow/include/tensorflow/c/', 'tensorflow/include/tensorflow/core/platform/',
                'tensorflow/include/tsl/', 'tensorflow/include/xla/tsl/c/')
with zipfile.ZipFile(wheel) as z:
    for name in ('libtensorflow_cc.so.2', 'libtensorflow_framework.so.2'):
        with z.open('tensorflow/' + name) as src, open(os.path.join(lib, name), 'wb') as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    for info in z.infolist():
        if info.is_dir() or not info.filename.startswith(header_roots):
            continue
        target = os.path.join(inc, info.filename[len('tensorflow/include/'):])
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(info) as src, open(target, 'wb') as dst:
            shutil.copyfileobj(src, dst)
`;

function provisionFromWheel(tfjsDir, python, wheel) {
  const deps = path.join(tfjsDir, 'deps');
  fs.rmSync(deps, { recursive: true, force: true });
  log(`extracting libtensorflow and headers into ${deps}`);
  const r = spawnSync(python, ['-c', EXTRACT_PY, wheel, deps], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`extracting ${wheel} failed`);
  const lib = path.join(deps, 'lib');
  const links = {
    'libtensorflow.so': 'libtensorflow_cc.so.2',
    [`libtensorflow.so.${TFJS_LIB_VERSION}`]: 'libtensorflow_cc.so.2',
    'libtensorflow_framework.so': 'libtensorflow_framework.so.2',
    [`libtensorflow_framework.so.${TFJS_LIB_VERSION}`]: 'libtensorflow_framework.so.2',
  };
  for (const [name, target] of Object.entries(links)) {
    fs.symlinkSync(target, path.join(lib, name));
  }
}

function main() {
  if (process.env.TSAD_SKIP_TENSORFLOW_INSTALL === '1') {
    log('TSAD_SKIP_TENSORFLOW_INSTALL=1: leaving @tensorflow/tfjs-node as it is');
    return;
  }
  const tfjsDir = findTfjsNode();
  if (!tfjsDir) {
    log('@tensorflow/tfjs-node is not installed; nothing to do');
    return;
  }
  const before = bindingError();
  if (!before) {
    log('native TensorFlow binding already works');
    return;
  }

  log('native TensorFlow binding missing; trying the standard tfjs-node download');
  const standard = runTfjsInstall(tfjsDir, 10 * 60 * 1000);
  if (standard.ok && !bindingError()) {
    log('native TensorFlow installed by the standard download');
    return;
  }
  log('standard download did not work; provisioning libtensorflow from the PyPI wheel');

  try {
    const python = findPython();
    if (!python) throw new Error('no Python with pip found (set PYTHON=/path/to/python3)');
    provisionFromWheel(tfjsDir, python, ensureWheel(python));
    log('building the tfjs-node binding from source (a few minutes)');
    const build = runTfjsInstall(tfjsDir, 30 * 60 * 1000);
    const after = bindingError();
    if (after) {
      throw new Error(`binding still fails to load: ${after}\n${build.output.slice(-4000)}`);
    }
    log('native TensorFlow ready (libtensorflow from the tensorflow-cpu wheel)');
  } catch (error) {
    warnLoudly([
      'Native TensorFlow could NOT be installed.',
      `Reason: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
      'tsad will fall back to the WASM backend (much slower). Run `npx tsad doctor`.',
      'Re-run this step with: node scripts/install-tensorflow.mjs',
    ]);
    if (error instanceof Error && error.message.includes('\n')) console.warn(error.message);
  }
}

main();
