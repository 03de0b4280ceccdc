/**
 * Readers and writers for the file formats of the two public benchmarks: NAB
 * data, labels and results CSVs, and SKAB data and results CSVs. Backtests
 * write with these and `tsad evaluate` reads with them, so both agree with the
 * layouts NAB's and SKAB's own tools use (see ../shared/benchmarks/README.md).
 */
import fs from 'node:fs';
import path from 'node:path';
import { TsadError } from '../errors.ts';
import { splitCsvRow } from './csv-series.ts';
import { writeOutputFile } from './write-output-file.ts';

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$/;

/**
 * Parses a benchmark timestamp (`YYYY-MM-DD hh:mm:ss`, optionally with a
 * fraction such as NAB's labels' `.000000`) to epoch milliseconds, reading it
 * as UTC: the benchmarks carry no zone, and only differences and equality
 * matter to scoring. Returns NaN when the text is not such a timestamp.
 */
export function parseBenchmarkTimestamp(text: string): number {
  const m = TIMESTAMP.exec(text);
  if (m === null) return Number.NaN;
  const ms = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000);
  return (
    Date.UTC(
      Number(m[1]),
      Number(m[2]) - 1,
      Number(m[3]),
      Number(m[4]),
      Number(m[5]),
      Number(m[6]),
    ) + ms
  );
}

/** Formats epoch milliseconds as `YYYY-MM-DD hh:mm:ss` (UTC), the benchmarks' own form. */
export function formatBenchmarkTimestamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

function invalid(file: string, message: string): TsadError {
  return new TsadError('TSAD_ERR_INPUT_INVALID', `${file}: ${message}`);
}

/** Splits a CSV text at LF, CRLF or a lone CR into lines, without trailing empty lines. */
function csvLines(text: string): string[] {
  const lines = text.split(/\r\n|\r|\n/);
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** A file's text without a leading UTF-8 BOM (which JSON.parse would reject). */
function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  } catch (cause) {
    throw new TsadError('TSAD_ERR_INPUT_INVALID', `cannot read ${file}`, { cause });
  }
}

function parseNumber(file: string, line: number, column: string, text: string | undefined): number {
  const value = text === undefined || text.trim() === '' ? Number.NaN : Number(text);
  if (!Number.isFinite(value)) {
    throw invalid(file, `line ${line}: ${column} is not a finite number (${JSON.stringify(text)})`);
  }
  return value;
}

interface Table {
  header: string[];
  rows: string[][];
}

/**
 * The header and rows of a benchmark CSV. A row with fewer cells than the
 * header is refused here, naming its line, rather than as a missing value of
 * whichever column the reader looks at first.
 */
function readTable(file: string, separator: string): Table {
  const lines = csvLines(readText(file));
  const headerLine = lines[0];
  if (headerLine === undefined) throw invalid(file, 'empty file');
  const header = splitCsvRow(headerLine, separator);
  const rows = lines.slice(1).map((line) => splitCsvRow(line, separator));
  rows.forEach((row, i) => {
    if (row.length < header.length) {
      throw invalid(file, `line ${i + 2}: ${row.length} cells, the header has ${header.length}`);
    }
  });
  return { header, rows };
}

function columnIndex(file: string, table: Table, name: string): number {
  const index = table.header.indexOf(name);
  if (index < 0) {
    throw invalid(file, `no column "${name}" (columns: ${table.header.join(', ')})`);
  }
  return index;
}

function timestampsOf(
  file: string,
  table: Table,
  column: number,
): { text: string[]; ms: number[] } {
  const text: string[] = [];
  const ms: number[] = [];
  table.rows.forEach((row, i) => {
    const t = (row[column] ?? '').trim();
    const value = parseBenchmarkTimestamp(t);
    if (Number.isNaN(value))
      throw invalid(file, `line ${i + 2}: bad timestamp ${JSON.stringify(t)}`);
    text.push(t);
    ms.push(value);
  });
  return { text, ms };
}

// ---------------------------------------------------------------- NAB

/** One NAB data file: `timestamp,value`. */
export interface NabSeries {
  /** Timestamps as written in the file, for writing them back unchanged. */
  timestampText: string[];
  /** Epoch milliseconds (UTC reading of the file's local times). */
  timestamps: number[];
  values: number[];
}

/** Reads a NAB data CSV (`timestamp,value`; CRLF tolerated). */
export function readNabDataCsv(file: string): NabSeries {
  const table = readTable(file, ',');
  const t = columnIndex(file, table, 'timestamp');
  const v = columnIndex(file, table, 'value');
  const { text, ms } = timestampsOf(file, table, t);
  const values = table.rows.map((row, i) => parseNumber(file, i + 2, 'value', row[v]));
  return { timestampText: text, timestamps: ms, values };
}

/** One NAB results file: the detector's score of every row. */
export interface NabResults {
  timestampText: string[];
  timestamps: number[];
  scores: number[];
  /** The `value` column when the file has one (NAB's published results of some detectors do not). */
  values?: number[];
}

/**
 * Reads a NAB results CSV. Columns are found by name, so both NAB's results
 * format (`timestamp,value,anomaly_score`, possibly with more columns) and
 * the reduced `timestamp,anomaly_score` of the test vectors are read.
 */
export function readNabResultsCsv(file: string): NabResults {
  const table = readTable(file, ',');
  const t = columnIndex(file, table, 'timestamp');
  const s = columnIndex(file, table, 'anomaly_score');
  const v = table.header.indexOf('value');
  const { text, ms } = timestampsOf(file, table, t);
  const scores = table.rows.map((row, i) => {
    const score = parseNumber(file, i + 2, 'anomaly_score', row[s]);
    // NAB's threshold sweep covers [0, 1]: a score outside it is never or always a detection.
    if (!(score >= 0 && score <= 1)) {
      throw invalid(file, `line ${i + 2}: anomaly_score ${score} is not in [0, 1]`);
    }
    return score;
  });
  const result: NabResults = { timestampText: text, timestamps: ms, scores };
  if (v >= 0) result.values = table.rows.map((row, i) => parseNumber(file, i + 2, 'value', row[v]));
  return result;
}

/** NAB labels: relative data path → inclusive windows as epoch milliseconds. */
export type NabLabels = Record<string, Array<[number, number]>>;

/** Reads NAB's `combined_windows.json` (`"<category>/<file>.csv": [[start, end], ...]`). */
export function readNabLabels(file: string): NabLabels {
  let raw: unknown;
  try {
    raw = JSON.parse(readText(file));
  } catch (cause) {
    if (cause instanceof TsadError) throw cause;
    throw new TsadError('TSAD_ERR_INPUT_INVALID', `${file}: not JSON`, { cause });
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw invalid(file, 'expected an object of file → windows');
  }
  const labels: NabLabels = {};
  for (const [key, windows] of Object.entries(raw)) {
    if (!Array.isArray(windows)) throw invalid(file, `${key}: windows must be an array`);
    labels[key] = windows.map((w: unknown, k) => {
      if (!Array.isArray(w) || w.length !== 2)
        throw invalid(file, `${key}: window ${k} is not a pair`);
      const [start, end] = w.map((x) => parseBenchmarkTimestamp(String(x)));
      if (start === undefined || end === undefined || Number.isNaN(start) || Number.isNaN(end)) {
        throw invalid(file, `${key}: window ${k} has a bad timestamp`);
      }
      return [start, end] as [number, number];
    });
  }
  return labels;
}

/**
 * Path of a detector's results file in NAB's layout:
 * `<out>/<detector>/<category>/<detector>_<file>.csv`. The detector name may
 * not contain `_`, because NAB splits the file name on the first `_` to find
 * the data file again.
 */
export function nabResultsPath(outDir: string, detector: string, relativeDataPath: string): string {
  if (detector === '' || detector.includes('_') || detector.includes('/')) {
    throw new TsadError(
      'TSAD_ERR_INPUT_INVALID',
      `NAB detector name "${detector}" must be non-empty and contain no "_" or "/"`,
    );
  }
  const category = path.dirname(relativeDataPath);
  return path.join(outDir, detector, category, `${detector}_${path.basename(relativeDataPath)}`);
}

/**
 * Lists the results files of one detector directory (`<results>/<category>/<detector>_<file>.csv`)
 * as relative data path (`<category>/<file>.csv`) → results file path. The
 * detector name is the directory's base name, as in NAB. Files not named
 * after the detector (such as NAB's `<detector>_<profile>_scores.csv` summaries
 * at the top level) are ignored.
 */
export function listNabResults(resultsDir: string): Map<string, string> {
  const detector = path.basename(path.resolve(resultsDir));
  const prefix = `${detector}_`;
  const found = new Map<string, string>();
  for (const category of readFolder(resultsDir, 'results folder')) {
    if (!category.isDirectory()) continue;
    const dir = path.join(resultsDir, category.name);
    for (const name of fs.readdirSync(dir).sort()) {
      if (!name.startsWith(prefix) || !name.endsWith('.csv')) continue;
      found.set(`${category.name}/${name.slice(prefix.length)}`, path.join(dir, name));
    }
  }
  return new Map([...found.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The entries of a folder the user named; one that cannot be read is an input error naming it as `what`. */
function readFolder(dir: string, what: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch (cause) {
    throw new TsadError('TSAD_ERR_INPUT_INVALID', `cannot read ${what} ${dir}`, { cause });
  }
}

/** Lists a NAB data folder's files as `<category>/<file>.csv`, sorted. */
export function listNabDataFiles(dataDir: string): string[] {
  const files: string[] = [];
  for (const category of readFolder(dataDir, 'folder')) {
    if (!category.isDirectory()) continue;
    for (const name of fs.readdirSync(path.join(dataDir, category.name))) {
      if (name.endsWith('.csv')) files.push(`${category.name}/${name}`);
    }
  }
  return files.sort();
}

/** What a NAB results file holds: one row per input row. */
export interface NabResultsRows {
  timestampText: readonly string[];
  values: ArrayLike<number>;
  scores: ArrayLike<number>;
}

/**
 * Writes a results CSV in NAB's format (`timestamp,value,anomaly_score`, one
 * row per input row). Throws TSAD_ERR_INPUT_INVALID for a score outside
 * [0, 1] or NaN, which NAB's scorer would mis-sweep, or mismatched lengths.
 * Creates the parent folders; replaces a previous file whole or not at all.
 */
export function writeNabResultsCsv(file: string, rows: NabResultsRows): void {
  const n = rows.timestampText.length;
  if (rows.values.length !== n || rows.scores.length !== n) {
    throw invalid(
      file,
      `results rows disagree in length (${n}, ${rows.values.length}, ${rows.scores.length})`,
    );
  }
  const lines = ['timestamp,value,anomaly_score'];
  for (let i = 0; i < n; i++) {
    const score = rows.scores[i] as number;
    if (!(score >= 0 && score <= 1))
      throw invalid(file, `row ${i}: anomaly_score ${score} is not in [0, 1]`);
    lines.push(`${rows.timestampText[i]},${rows.values[i]},${score}`);
  }
  writeOutputFile(file, `${lines.join('\n')}\n`);
}

// ---------------------------------------------------------------- SKAB

/** SKAB's eight sensor columns, in file order. */
export const SKAB_CHANNELS = [
  'Accelerometer1RMS',
  'Accelerometer2RMS',
  'Current',
  'Pressure',
  'Temperature',
  'Thermocouple',
  'Voltage',
  'Volume Flow RateRMS',
] as const;

/** Rows at the start of every SKAB file that the leaderboard protocol uses for fitting. */
export const SKAB_FIT_ROWS = 400;

/** One SKAB data file. */
export interface SkabSeries {
  timestampText: string[];
  timestamps: number[];
  channels: readonly string[];
  /** Row-major sensor values: `values[row][channel]`. */
  values: number[][];
  /** 0/1 labels; all zero for the anomaly-free file, which has no label columns. */
  anomaly: Uint8Array;
  changepoint: Uint8Array;
}

function flag(file: string, line: number, column: string, text: string | undefined): 0 | 1 {
  const value = parseNumber(file, line, column, text);
  if (value !== 0 && value !== 1)
    throw invalid(file, `line ${line}: ${column} is ${value}, not 0 or 1`);
  return value;
}

/**
 * Reads a SKAB data CSV: `;`-separated, `datetime` index, the eight sensor
 * columns and the `anomaly`/`changepoint` labels (0/1, written as floats).
 * The anomaly-free file has no label columns; its labels read as zeros.
 */
export function readSkabCsv(file: string): SkabSeries {
  const table = readTable(file, ';');
  const t = columnIndex(file, table, 'datetime');
  const channelColumns = SKAB_CHANNELS.map((name) => columnIndex(file, table, name));
  const a = table.header.indexOf('anomaly');
  const c = table.header.indexOf('changepoint');
  const { text, ms } = timestampsOf(file, table, t);
  const n = table.rows.length;
  const anomaly = new Uint8Array(n);
  const changepoint = new Uint8Array(n);
  const values = table.rows.map((row, i) => {
    if (a >= 0) anomaly[i] = flag(file, i + 2, 'anomaly', row[a]);
    if (c >= 0) changepoint[i] = flag(file, i + 2, 'changepoint', row[c]);
    return channelColumns.map((col, k) =>
      parseNumber(file, i + 2, SKAB_CHANNELS[k] as string, row[col]),
    );
  });
  return {
    timestampText: text,
    timestamps: ms,
    channels: SKAB_CHANNELS,
    values,
    anomaly,
    changepoint,
  };
}

/** A SKAB results file: the detector's 0/1 outlier and changepoint predictions. */
export interface SkabResults {
  timestampText: string[];
  timestamps: number[];
  anomaly: Uint8Array;
  changepoint: Uint8Array;
}

/** Reads a SKAB results CSV (`datetime;anomaly;changepoint`). */
export function readSkabResultsCsv(file: string): SkabResults {
  const table = readTable(file, ';');
  const t = columnIndex(file, table, 'datetime');
  const a = columnIndex(file, table, 'anomaly');
  const c = columnIndex(file, table, 'changepoint');
  const { text, ms } = timestampsOf(file, table, t);
  const anomaly = new Uint8Array(table.rows.length);
  const changepoint = new Uint8Array(table.rows.length);
  table.rows.forEach((row, i) => {
    anomaly[i] = flag(file, i + 2, 'anomaly', row[a]);
    changepoint[i] = flag(file, i + 2, 'changepoint', row[c]);
  });
  return { timestampText: text, timestamps: ms, anomaly, changepoint };
}

/**
 * Writes a SKAB results CSV (`datetime;anomaly;changepoint`) for the test
 * part of a file. Without a `changepoint` column of its own, it is derived
 * from the outlier predictions as SKAB's baselines do: 1 where the prediction
 * changes, and the first row's own value. Replaces a previous file whole or
 * not at all.
 */
export function writeSkabResultsCsv(
  file: string,
  rows: {
    timestampText: readonly string[];
    anomaly: ArrayLike<number>;
    changepoint?: ArrayLike<number>;
  },
): void {
  const n = rows.timestampText.length;
  if (
    rows.anomaly.length !== n ||
    (rows.changepoint !== undefined && rows.changepoint.length !== n)
  )
    throw invalid(file, 'timestamps and predictions disagree in length');
  const lines = ['datetime;anomaly;changepoint'];
  let previous = 0;
  for (let i = 0; i < n; i++) {
    const a = rows.anomaly[i] === 1 ? 1 : 0;
    if (rows.anomaly[i] !== 0 && rows.anomaly[i] !== 1) {
      throw invalid(file, `row ${i}: prediction ${rows.anomaly[i]} is not 0 or 1`);
    }
    const given = rows.changepoint?.[i];
    if (given !== undefined && given !== 0 && given !== 1) {
      throw invalid(file, `row ${i}: changepoint ${given} is not 0 or 1`);
    }
    const cp = given ?? (i === 0 ? a : a === previous ? 0 : 1);
    lines.push(`${rows.timestampText[i]};${a};${cp}`);
    previous = a;
  }
  writeOutputFile(file, `${lines.join('\n')}\n`);
}

/**
 * Lists the labelled SKAB files under a folder as `<folder>/<n>.csv`, sorted
 * by folder and then numerically, leaving out `anomaly-free/`.
 */
export function listSkabFiles(dir: string): string[] {
  const files: string[] = [];
  for (const folder of readFolder(dir, 'folder')) {
    if (!folder.isDirectory() || folder.name === 'anomaly-free') continue;
    for (const name of fs.readdirSync(path.join(dir, folder.name))) {
      if (name.endsWith('.csv')) files.push(`${folder.name}/${name}`);
    }
  }
  const key = (f: string) => {
    const [folder = '', name = ''] = f.split('/');
    return { folder, n: Number.parseInt(name, 10), name };
  };
  return files.sort((x, y) => {
    const a = key(x);
    const b = key(y);
    if (a.folder !== b.folder) return a.folder < b.folder ? -1 : 1;
    if (a.n !== b.n && !Number.isNaN(a.n) && !Number.isNaN(b.n)) return a.n - b.n;
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  });
}
