/**
 * Reading and writing a model directory: `model.json` (tfjs topology and
 * weights manifest), `weights.bin` and `metadata.json`. The files are written
 * through tfjs's in-memory IO handlers rather than `file://`, which only the
 * native backend registers, so the same code saves and loads on the WASM
 * fallback. A directory is written beside its target and renamed into place,
 * so a reader never sees a half-written model.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs, constants as fsConstants, type Stats } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { errorMessage, systemReason, TsadError } from '../errors.ts';
// Registers the FusedLstm layer class, so models that use it deserialise.
import './fused-lstm.ts';
import { MODEL_FORMAT_VERSION, type ModelMetadata, readMetadataText } from './metadata.ts';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';
export const METADATA_JSON = 'metadata.json';

/** The bytes of a serialised network. */
export interface NetworkFiles {
  modelJson: Buffer;
  weights: Buffer;
}

/** Serialises a network to the bytes of `model.json` and `weights.bin`. */
export async function serialiseNetwork(network: tf.LayersModel): Promise<NetworkFiles> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await network.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (artifacts?.weightSpecs === undefined || artifacts.weightData === undefined) {
    throw new TsadError('TSAD_ERR_INTERNAL', 'tfjs returned no weights when saving the model');
  }
  const weights = Buffer.from(tf.io.CompositeArrayBuffer.join(artifacts.weightData));
  const modelJson = {
    format: 'layers-model',
    generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
    convertedBy: null,
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs }],
  };
  return { modelJson: Buffer.from(JSON.stringify(modelJson)), weights };
}

/**
 * The name of a directory a save works in beside its `target`:
 * `<target>.tmp-<pid>-<hex>` while the model is written, `<target>.old-<pid>-<hex>`
 * for the model it replaces until that is removed. The pid says whose save it
 * is: the model registry skips such entries (a save in progress is no
 * version) and its daemon removes those of processes no longer alive.
 */
export function stagingPath(target: string, role: 'tmp' | 'old', suffix = stagingSuffix()): string {
  return `${target}.${role}-${suffix}`;
}

/** A fresh `<pid>-<hex>` for stagingPath; one save uses the same suffix for both roles. */
export function stagingSuffix(): string {
  return `${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** The names stagingPath makes, also nested (a registry stages a save that stages its own). */
const STAGING_NAME = /\.(?:tmp|old)-(\d+)-[0-9a-f]+$/;

/** The pid of the process whose save made `name` (see stagingPath), or null for any other name. */
export function stagingPid(name: string): number | null {
  const match = STAGING_NAME.exec(name);
  return match ? Number(match[1]) : null;
}

/** Hex sha256 of some bytes. */
export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Writes a model directory at `dir`, replacing a previous model there. The
 * checksums of the network files go into the metadata. Refuses anything
 * checkModelDirectoryTarget refuses, so a mistyped `--out` cannot wipe a file
 * or unrelated files.
 */
export async function writeModelDirectory(
  dir: string,
  files: NetworkFiles,
  metadata: Omit<ModelMetadata, 'files'>,
): Promise<void> {
  const target = path.resolve(dir);
  await checkModelDirectoryTarget(target);
  const suffix = stagingSuffix();
  const staging = stagingPath(target, 'tmp', suffix);
  const full: ModelMetadata = {
    ...metadata,
    files: { [MODEL_JSON]: sha256(files.modelJson), [WEIGHTS_BIN]: sha256(files.weights) },
  };
  try {
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.mkdir(staging);
    await fs.writeFile(path.join(staging, MODEL_JSON), files.modelJson);
    await fs.writeFile(path.join(staging, WEIGHTS_BIN), files.weights);
    await fs.writeFile(path.join(staging, METADATA_JSON), `${JSON.stringify(full, null, 2)}\n`);
    const old = stagingPath(target, 'old', suffix);
    const replaced = await rename(target, old);
    await fs.rename(staging, target);
    if (replaced) await fs.rm(old, { recursive: true, force: true });
  } catch (error) {
    await fs.rm(staging, { recursive: true, force: true });
    if (error instanceof TsadError) throw error;
    throw new TsadError(
      'TSAD_ERR_OUTPUT_WRITE',
      `cannot write model directory ${dir}: ${systemReason(error)}`,
      { cause: error },
    );
  }
}

/**
 * Checks that a model may be saved at `dir` before any work goes into one:
 * `dir` must be missing, an empty directory or a directory holding a tsad
 * model and nothing else (its `metadata.json` parses as model metadata), and
 * its nearest existing ancestor a writable directory. Anything else (a file,
 * say the training CSV, or a directory of unrelated files) would be replaced,
 * so it throws TSAD_ERR_INPUT_INVALID naming the path. `tsad train` calls it
 * before training; every save calls it again.
 */
export async function checkModelDirectoryTarget(dir: string): Promise<void> {
  const target = path.resolve(dir);
  const refuse = (why: string): TsadError =>
    new TsadError('TSAD_ERR_INPUT_INVALID', `refusing to write a model to ${dir}: ${why}`);
  await checkWritableParent(target, refuse);
  const stats = await statOrUndefined(target);
  if (stats === undefined) return;
  if (!stats.isDirectory()) throw refuse('it exists and is not a directory');
  const entries = await fs.readdir(target);
  if (entries.length === 0) return;
  const strays = entries.filter((name) => !MODEL_FILES.includes(name));
  if (!entries.includes(METADATA_JSON) || !(await holdsModelMetadata(target))) {
    throw refuse('it is a non-empty directory that holds no model');
  }
  if (strays.length > 0) {
    throw refuse(`it holds a model and other files (${strays.join(', ')}) that would be deleted`);
  }
}

const MODEL_FILES = [MODEL_JSON, WEIGHTS_BIN, METADATA_JSON];

async function holdsModelMetadata(dir: string): Promise<boolean> {
  try {
    const text = await fs.readFile(path.join(dir, METADATA_JSON), 'utf8');
    return readMetadataText(text).metadata !== undefined;
  } catch {
    return false;
  }
}

/**
 * The model is staged beside `target` and renamed into place, creating
 * missing parents first, so the nearest existing ancestor of `target` must be
 * a writable directory.
 */
async function checkWritableParent(
  target: string,
  refuse: (why: string) => TsadError,
): Promise<void> {
  let ancestor = path.dirname(target);
  let stats = await statOrUndefined(ancestor);
  while (stats === undefined && path.dirname(ancestor) !== ancestor) {
    ancestor = path.dirname(ancestor);
    stats = await statOrUndefined(ancestor);
  }
  if (stats === undefined || !stats.isDirectory()) {
    throw refuse(`${ancestor} is not a directory`);
  }
  try {
    await fs.access(ancestor, fsConstants.W_OK);
  } catch {
    throw refuse(`${ancestor} is not writable`);
  }
}

async function statOrUndefined(file: string): Promise<Stats | undefined> {
  try {
    return await fs.stat(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
}

async function rename(from: string, to: string): Promise<boolean> {
  try {
    await fs.rename(from, to);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** A model directory read from disk and checked, before the network is built. */
export interface ModelDirectory {
  metadata: ModelMetadata;
  network: tf.LayersModel;
}

/**
 * Reads and verifies a model directory: metadata schema and format version,
 * the sha256 of every listed file, and that the network's input and output
 * shapes match the metadata. Throws TSAD_ERR_MODEL_NOT_FOUND,
 * TSAD_ERR_MODEL_CORRUPT or TSAD_ERR_MODEL_INCOMPATIBLE naming the problem.
 */
export async function readModelDirectory(dir: string): Promise<ModelDirectory> {
  const metadataPath = path.join(dir, METADATA_JSON);
  let raw: string;
  try {
    raw = await fs.readFile(metadataPath, 'utf8');
  } catch (error) {
    throw new TsadError(
      'TSAD_ERR_MODEL_NOT_FOUND',
      `no model at ${dir}: cannot read ${METADATA_JSON} (${errorMessage(error)})`,
      { cause: error },
    );
  }
  const metadata = parseMetadata(raw, metadataPath);
  const contents = new Map<string, Buffer>();
  for (const name of [MODEL_JSON, WEIGHTS_BIN]) {
    if (metadata.files[name] === undefined) {
      throw corrupt(`${metadataPath} lists no checksum for ${name}`);
    }
  }
  for (const [name, expected] of Object.entries(metadata.files)) {
    if (name !== path.basename(name))
      throw corrupt(`${metadataPath} lists a file outside the model: ${name}`);
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(path.join(dir, name));
    } catch (error) {
      throw corrupt(
        `model file ${path.join(dir, name)} is missing or unreadable (${errorMessage(error)})`,
      );
    }
    const actual = sha256(bytes);
    if (actual !== expected) {
      throw corrupt(
        `checksum mismatch for ${path.join(dir, name)}: expected sha256 ${expected}, got ${actual}`,
      );
    }
    contents.set(name, bytes);
  }
  const network = await buildNetwork(contents.get(MODEL_JSON)!, contents.get(WEIGHTS_BIN)!, dir);
  try {
    checkShapes(network, metadata, dir);
  } catch (error) {
    network.dispose();
    throw error;
  }
  return { metadata, network };
}

function parseMetadata(raw: string, file: string): ModelMetadata {
  const read = readMetadataText(raw);
  if (!('json' in read)) throw corrupt(`${file} is ${read.problem}`);
  const format = (read.json as { formatVersion?: unknown } | null)?.formatVersion;
  if (format !== MODEL_FORMAT_VERSION) {
    throw new TsadError(
      'TSAD_ERR_MODEL_INCOMPATIBLE',
      `${file} has format version ${String(format)}; this tsad reads format ${MODEL_FORMAT_VERSION}`,
    );
  }
  if (read.metadata === undefined) throw corrupt(`${file} is invalid: ${read.problem}`);
  const metadata = read.metadata;
  const c = metadata.channels.length;
  if (metadata.normalisation.center.length !== c || metadata.normalisation.scale.length !== c) {
    throw corrupt(
      `${file}: normalisation has not one centre and scale per channel (${c} channels)`,
    );
  }
  return metadata;
}

async function buildNetwork(
  modelJson: Buffer,
  weights: Buffer,
  dir: string,
): Promise<tf.LayersModel> {
  try {
    const json = JSON.parse(modelJson.toString('utf8')) as tf.io.ModelJSON;
    const specs = json.weightsManifest.flatMap((group) => group.weights);
    const data = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength);
    return await tf.loadLayersModel(
      tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs, weightData: data }),
    );
  } catch (error) {
    throw corrupt(
      `cannot build the network from ${path.join(dir, MODEL_JSON)}: ${errorMessage(error)}`,
      error,
    );
  }
}

function checkShapes(network: tf.LayersModel, metadata: ModelMetadata, dir: string): void {
  const expected = [null, metadata.config.windowSize, metadata.channels.length];
  const input = network.inputs[0]?.shape;
  const output = network.outputs[0]?.shape;
  const same = (shape: readonly (number | null)[] | undefined): boolean =>
    JSON.stringify(shape) === JSON.stringify(expected);
  if (
    network.inputs.length !== 1 ||
    network.outputs.length !== 1 ||
    !same(input) ||
    !same(output)
  ) {
    throw new TsadError(
      'TSAD_ERR_MODEL_INCOMPATIBLE',
      `model at ${dir}: network maps ${JSON.stringify(input)} to ${JSON.stringify(output)}, ` +
        `but its metadata says windows of ${JSON.stringify(expected)}`,
    );
  }
}

function corrupt(text: string, cause?: unknown): TsadError {
  return new TsadError('TSAD_ERR_MODEL_CORRUPT', text, cause === undefined ? {} : { cause });
}
