/**
 * Loading a model directory into a scoring Autoencoder, with the checks a
 * caller needs before swapping it in: the model must exist, be intact and fit
 * the windows the caller will feed it.
 */
import { TsadError } from '../errors.ts';
import { Autoencoder, DEFAULT_SCORE_CHUNK } from './autoencoder.ts';
import { readModelDirectory } from './persistence.ts';

/** What the caller will feed the model; a mismatch is TSAD_ERR_MODEL_INCOMPATIBLE. */
export interface LoadExpectations {
  windowSize?: number;
  channels?: readonly string[];
  /** Windows per predict call when scoring. */
  scoreChunk?: number;
}

/**
 * Loads and verifies the model in `dir` (see readModelDirectory for the
 * checks). Rejects with TSAD_ERR_MODEL_NOT_FOUND, TSAD_ERR_MODEL_CORRUPT or
 * TSAD_ERR_MODEL_INCOMPATIBLE, each naming the problem.
 */
export async function loadAutoencoder(
  dir: string,
  expect: LoadExpectations = {},
): Promise<Autoencoder> {
  const { metadata, network } = await readModelDirectory(dir);
  const problems: string[] = [];
  if (expect.windowSize !== undefined && expect.windowSize !== metadata.config.windowSize) {
    problems.push(`window size is ${metadata.config.windowSize}, expected ${expect.windowSize}`);
  }
  if (
    expect.channels !== undefined &&
    (expect.channels.length !== metadata.channels.length ||
      expect.channels.some((name, i) => name !== metadata.channels[i]))
  ) {
    problems.push(
      `channels are [${metadata.channels.join(', ')}], expected [${expect.channels.join(', ')}]`,
    );
  }
  if (problems.length > 0) {
    network.dispose();
    throw new TsadError('TSAD_ERR_MODEL_INCOMPATIBLE', `model at ${dir}: ${problems.join('; ')}`);
  }
  const { files: _files, ...rest } = metadata;
  return new Autoencoder(network, rest, expect.scoreChunk ?? DEFAULT_SCORE_CHUNK);
}
