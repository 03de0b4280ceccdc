/**
 * The structured logger of tsad (pino). Logs go to stderr, always: stdout
 * belongs to command results and, in the embedded mode, to the alert lines
 * people read, so the two never interleave and `tsad run > alerts.txt` keeps
 * only alerts. The format is JSON lines by default (for log shippers) and
 * readable lines on a terminal (`log.format: auto`) or when asked (`pretty`).
 */
import { type Logger, pino } from 'pino';
import pretty from 'pino-pretty';
import type { Config } from '../config/schema.ts';

export type { Logger };

/** Where and how to write, for tests and tools; the defaults are stderr and its TTY flag. */
export interface LoggerDestination {
  /** A stream to write to instead of stderr. */
  stream?: NodeJS.WritableStream;
  /** Whether the destination is a terminal (decides `auto`). Default: process.stderr.isTTY. */
  isTTY?: boolean;
  /** The `name` field of every line (default `tsad`). */
  name?: string;
}

/** True when the given log settings produce readable lines rather than JSON. */
export function isPrettyFormat(format: Config['log']['format'], isTTY: boolean): boolean {
  return format === 'pretty' || (format === 'auto' && isTTY);
}

/**
 * Creates the logger from the `log` section of the config. JSON lines are
 * written synchronously to fd 2, so the last lines before a crash or an exit
 * are not lost in a buffer; volume is low (no per-reading logging).
 */
export function createLogger(log: Config['log'], destination: LoggerDestination = {}): Logger {
  const isTTY = destination.isTTY ?? process.stderr.isTTY === true;
  const options = {
    name: destination.name ?? 'tsad',
    level: log.level,
    // An error's own message, its cause as a nested error: pino's default `err`
    // serializer appends every cause's message to the error's, and tsad's
    // messages often name their cause already, so the text came out twice.
    serializers: { err: pino.stdSerializers.errWithCause },
  };
  if (isPrettyFormat(log.format, isTTY)) {
    return pino(
      options,
      pretty({
        destination: destination.stream ?? 2,
        colorize: isTTY,
        sync: true,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname,name',
      }),
    );
  }
  return pino(
    {
      ...options,
      base: { name: options.name },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Level names rather than numbers: readable in a log viewer without a legend.
      formatters: { level: (label) => ({ level: label }) },
    },
    destination.stream ?? pino.destination({ dest: 2, sync: true }),
  );
}
