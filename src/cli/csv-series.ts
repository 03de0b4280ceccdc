/**
 * Reading a time series from a CSV file for `tsad train` and `tsad score`:
 * a header row, a `timestamp` column (ISO 8601 or epoch milliseconds) and
 * numeric channel columns. Every problem names the file, line and column.
 */
import { promises as fs } from 'node:fs';
import { errorMessage, TsadError } from '../errors.ts';

/** A series read from CSV: one row per line, values row-major `[row][channel]`. */
export interface CsvSeries {
  channels: string[];
  /** Epoch milliseconds per row. */
  timestamps: Float64Array;
  /** The timestamp cells as written, so output can echo them unchanged. */
  timestampText: string[];
  values: Float32Array;
}

/**
 * Reads `file`. `columns` picks channel columns by name (in that order);
 * otherwise every column but `timestamp` is a channel. Empty lines are
 * skipped. Throws TSAD_ERR_INPUT_INVALID for a missing, unknown or repeated
 * column (in the header or in `columns`), a bad timestamp or a non-numeric
 * value.
 */
export async function readCsvSeries(file: string, columns?: readonly string[]): Promise<CsvSeries> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    throw invalid(`cannot read ${file}: ${errorMessage(error)}`);
  }
  // Lines end in LF, CRLF, or CR alone (what Excel for Mac's "Macintosh" CSV writes).
  const lines = text.split(/\r\n|\r|\n/);
  const header = splitCsvRow(lines[0] ?? '');
  if (header.length === 0 || (header.length === 1 && header[0] === '')) {
    throw invalid(`${file} is empty: expected a header row`);
  }
  // Columns are found by name, so a repeated name would silently read the first one twice.
  const repeated = header.find((name, i) => header.indexOf(name) !== i);
  if (repeated !== undefined) {
    throw invalid(`${file}: the header names column '${repeated}' more than once`);
  }
  const picked = columns?.find((name, i) => columns.indexOf(name) !== i);
  if (picked !== undefined) throw invalid(`${file}: column '${picked}' is asked for twice`);
  const tsIndex = header.indexOf('timestamp');
  if (tsIndex < 0)
    throw invalid(`${file}: the header has no 'timestamp' column (columns: ${header.join(', ')})`);
  const channels =
    columns !== undefined && columns.length > 0
      ? [...columns]
      : header.filter((_, i) => i !== tsIndex);
  if (channels.length === 0) throw invalid(`${file}: no channel columns besides 'timestamp'`);
  const indices = channels.map((name) => {
    const i = header.indexOf(name);
    if (i < 0 || i === tsIndex) {
      throw invalid(`${file}: unknown column '${name}' (columns: ${header.join(', ')})`);
    }
    return i;
  });
  const timestamps: number[] = [];
  const timestampText: string[] = [];
  const values: number[] = [];
  for (let l = 1; l < lines.length; l++) {
    const line = lines[l]!;
    if (line.trim() === '') continue;
    const cells = splitCsvRow(line);
    if (cells.length !== header.length) {
      throw invalid(
        `${file} line ${l + 1}: ${cells.length} cells, the header has ${header.length}`,
      );
    }
    const tsCell = cells[tsIndex]!;
    const ts = parseTimestamp(tsCell);
    if (ts === undefined) {
      throw invalid(
        `${file} line ${l + 1}: timestamp '${tsCell}' is neither ISO 8601 nor epoch milliseconds`,
      );
    }
    timestamps.push(ts);
    timestampText.push(tsCell);
    indices.forEach((i, c) => {
      const cell = cells[i]!;
      const value = DECIMAL.test(cell) ? Number(cell) : Number.NaN;
      if (!Number.isFinite(value)) {
        throw invalid(
          `${file} line ${l + 1}: column '${channels[c]}' holds '${cell}', not a finite number`,
        );
      }
      values.push(value);
    });
  }
  return {
    channels,
    timestamps: Float64Array.from(timestamps),
    timestampText,
    values: Float32Array.from(values),
  };
}

/**
 * A decimal number, optionally with an exponent. `Number` alone would also
 * read '0x1F' as 31, '0b11' as 3 and '' as 0.
 */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Splits one CSV row at `separator` and trims each cell; double-quoted cells
 * may hold the separator and doubled quotes. Also used for the benchmarks'
 * files (benchmark-files.ts).
 */
export function splitCsvRow(line: string, separator = ','): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === separator) {
      cells.push(cell.trim());
      cell = '';
    } else cell += ch;
  }
  cells.push(cell.trim());
  return cells;
}

function parseTimestamp(cell: string): number | undefined {
  if (/^-?\d+(\.\d+)?$/.test(cell)) return Number(cell);
  if (!/^\d{4}-\d{2}-\d{2}/.test(cell)) return undefined;
  const ms = Date.parse(cell);
  return Number.isNaN(ms) ? undefined : ms;
}

function invalid(message: string): TsadError {
  return new TsadError('TSAD_ERR_INPUT_INVALID', message);
}
