/**
 * Progress of long work (training epochs, backtests, simulations): a live bar
 * on a terminal, and on anything else (CI logs, files, pipes) a plain line
 * every few seconds and one at the end, because a redrawn bar there turns
 * into thousands of lines. Progress goes to stderr so that stdout keeps only
 * the command's result.
 */
import cliProgress from 'cli-progress';

/** Extra values shown after the count, e.g. `{ loss: 0.012 }`. */
export type ProgressInfo = Record<string, string | number>;

/** A running progress display. */
export interface Progress {
  /** Advances by `amount` (default 1). */
  tick(amount?: number, info?: ProgressInfo): void;
  /** Sets the current value. */
  update(value: number, info?: ProgressInfo): void;
  /** Ends the display (prints the final line); idempotent. */
  stop(): void;
}

/** What to show and where. */
export interface ProgressOptions {
  /** The value at completion; unset = unknown (counts only, no bar or ETA). */
  total?: number;
  /** What is progressing, e.g. `training` or `backtest SKAB`. */
  label: string;
  /** Default process.stderr. */
  stream?: NodeJS.WritableStream;
  /** Whether `stream` is a terminal. Default: its own isTTY flag. */
  isTTY?: boolean;
  /** Plain mode: least time between two lines (default 5000 ms). */
  intervalMs?: number;
  /** The clock, for tests. */
  now?: () => number;
}

function formatInfo(info: ProgressInfo | undefined): string {
  if (info === undefined) return '';
  const parts = Object.entries(info).map(([key, value]) =>
    typeof value === 'number' && !Number.isInteger(value)
      ? `${key}=${value.toPrecision(4)}`
      : `${key}=${value}`,
  );
  return parts.length === 0 ? '' : ` ${parts.join(' ')}`;
}

/**
 * Creates a progress display: cli-progress on a terminal, periodic plain
 * lines (`label: 120/1000 (12%) loss=0.0123`) otherwise.
 */
export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const isTTY = options.isTTY ?? (stream as { isTTY?: boolean }).isTTY === true;
  return isTTY ? barProgress(options, stream) : plainProgress(options, stream);
}

function barProgress(options: ProgressOptions, stream: NodeJS.WritableStream): Progress {
  const known = options.total !== undefined;
  const bar = new cliProgress.SingleBar(
    {
      format: known
        ? `${options.label} [{bar}] {percentage}% | {value}/{total} | ETA {eta_formatted}{info}`
        : `${options.label} {value}{info}`,
      stream: stream as NodeJS.WritableStream & NodeJS.WriteStream,
      hideCursor: true,
      // The caller decided this is a terminal (cli-progress would check the stream again).
      noTTYOutput: true,
      etaBuffer: 20,
      forceRedraw: false,
    },
    cliProgress.Presets.shades_classic,
  );
  let value = 0;
  let stopped = false;
  bar.start(options.total ?? 0, 0, { info: '' });
  return {
    tick(amount = 1, info) {
      value += amount;
      bar.update(value, { info: formatInfo(info) });
    },
    update(next, info) {
      value = next;
      bar.update(value, { info: formatInfo(info) });
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}

function plainProgress(options: ProgressOptions, stream: NodeJS.WritableStream): Progress {
  const now = options.now ?? Date.now;
  const intervalMs = options.intervalMs ?? 5000;
  let value = 0;
  let info: ProgressInfo | undefined;
  let lastLine = now();
  let stopped = false;
  const line = () => {
    const total = options.total;
    const count =
      total === undefined
        ? `${value}`
        : `${value}/${total} (${total === 0 ? 100 : Math.floor((100 * value) / total)}%)`;
    stream.write(`${options.label}: ${count}${formatInfo(info)}\n`);
  };
  const maybeLine = () => {
    const t = now();
    if (t - lastLine >= intervalMs) {
      lastLine = t;
      line();
    }
  };
  return {
    tick(amount = 1, next) {
      value += amount;
      info = next ?? info;
      maybeLine();
    },
    update(next, nextInfo) {
      value = next;
      info = nextInfo ?? info;
      maybeLine();
    },
    stop() {
      if (stopped) return;
      stopped = true;
      line();
    },
  };
}
