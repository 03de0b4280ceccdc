/**
 * Writing the result files of `tsad score` and the backtests so that a failed
 * write (a full disk, a file size limit) never leaves a truncated file where
 * the previous results were, and so that results never land on the input
 * they were computed from.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { errorMessage, systemReason, TsadError } from '../errors.ts';

/**
 * Writes `data` to `file` through a temporary file in the same directory that
 * is then renamed over it, so `file` holds either its previous content or all
 * of `data`. Creates the missing parent folders. The temporary file is removed
 * when the write fails, and the failure (a read-only folder, a full disk, a
 * path part that is a file) is thrown as TSAD_ERR_OUTPUT_WRITE naming `file`
 * and the system's reason.
 */
export function writeOutputFile(file: string, data: string | Uint8Array): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
  } catch (error) {
    // mkdir's message ends with the part of the path that is in the way: keep it.
    throw cannotWrite(file, errorMessage(error), error);
  }
  const suffix = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${suffix}`);
  try {
    fs.writeFileSync(temp, data, { flag: 'wx' });
    fs.renameSync(temp, file);
  } catch (error) {
    fs.rmSync(temp, { force: true });
    // The system's message would end with the temporary file's name: keep the reason only.
    throw cannotWrite(file, systemReason(error), error);
  }
}

function cannotWrite(file: string, reason: string, cause: unknown): TsadError {
  return new TsadError('TSAD_ERR_OUTPUT_WRITE', `cannot write ${file}: ${reason}`, { cause });
}

/**
 * Whether two paths name the same file or folder: the same absolute path, or
 * both existing with the same device and inode (so a link or a second path
 * to the same file counts too).
 */
export function sameFile(a: string, b: string): boolean {
  if (path.resolve(a) === path.resolve(b)) return true;
  const x = statOrUndefined(a);
  const y = statOrUndefined(b);
  return x !== undefined && y !== undefined && x.dev === y.dev && x.ino === y.ino;
}

/**
 * Throws TSAD_ERR_INPUT_INVALID when writing `outputs` would write over the
 * input: `outDir` is the input folder itself, or one of `outputs` is one of
 * `inputs`. Called before any work, so nothing has been written yet.
 */
export function refuseWritingOverInput(
  input: { dir: string; files: readonly string[] },
  output: { dir: string; files: readonly string[] },
): void {
  const refuse = (why: string): TsadError =>
    new TsadError('TSAD_ERR_INPUT_INVALID', `refusing to write results to ${output.dir}: ${why}`);
  if (sameFile(input.dir, output.dir)) throw refuse(`it is the input folder ${input.dir}`);
  const inputKeys = new Set(input.files.flatMap((file) => fileKeys(file)));
  for (const file of output.files) {
    if (fileKeys(file).some((key) => inputKeys.has(key))) {
      throw refuse(`${file} would overwrite an input file`);
    }
  }
}

/**
 * Throws TSAD_ERR_INPUT_INVALID when the results folder `dir`, or the nearest
 * path above it that exists, is not a folder (say `--out` names a file): no
 * result could be written there. Called before any work, so that the mistake
 * does not show only after the first file has been replayed.
 */
export function refuseFileAsOutputFolder(dir: string): void {
  let existing = path.resolve(dir);
  let stats = statOrUndefined(existing);
  while (stats === undefined && path.dirname(existing) !== existing) {
    existing = path.dirname(existing);
    stats = statOrUndefined(existing);
  }
  if (stats !== undefined && !stats.isDirectory()) {
    throw new TsadError(
      'TSAD_ERR_INPUT_INVALID',
      `refusing to write results to ${dir}: ${existing} is not a folder`,
    );
  }
}

/** The absolute path of a file and, when it exists, its device and inode. */
function fileKeys(file: string): string[] {
  const stats = statOrUndefined(file);
  return [path.resolve(file), ...(stats === undefined ? [] : [`${stats.dev}:${stats.ino}`])];
}

function statOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.statSync(file);
  } catch {
    return undefined;
  }
}
