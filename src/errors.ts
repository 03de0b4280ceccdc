/**
 * The one error class of tsad. Every failure that crosses a module boundary is
 * a TsadError with a stable `code` (listed in docs/errors.md, checked by a
 * test), a `retriable` flag that recovery logic reads instead of message
 * strings, and the underlying `cause`.
 */

/** Every error code tsad can raise, with whether a retry may succeed. */
export const ERROR_CODES = {
  TSAD_ERR_CONFIG_INVALID: { retriable: false },
  TSAD_ERR_INPUT_INVALID: { retriable: false },
  TSAD_ERR_MODEL_NOT_FOUND: { retriable: false },
  TSAD_ERR_MODEL_CORRUPT: { retriable: false },
  TSAD_ERR_MODEL_INCOMPATIBLE: { retriable: false },
  TSAD_ERR_MODEL_TRAINING_FAILED: { retriable: true },
  TSAD_ERR_BACKEND_UNAVAILABLE: { retriable: false },
  TSAD_ERR_KAFKA: { retriable: true },
  TSAD_ERR_INFLUX: { retriable: true },
  TSAD_ERR_SHUTDOWN_TIMEOUT: { retriable: false },
  TSAD_ERR_SERVICE_START: { retriable: true },
  TSAD_ERR_SENSOR_LIMIT: { retriable: false },
  TSAD_ERR_OUTPUT_WRITE: { retriable: false },
  TSAD_ERR_INTERNAL: { retriable: false },
} as const satisfies Record<string, { retriable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface TsadErrorOptions {
  cause?: unknown;
  /** Overrides the code's default retriability, e.g. for a permanent Kafka error. */
  retriable?: boolean;
}

/** An error with a stable code, a retriable flag and a cause. */
export class TsadError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, options: TsadErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TsadError';
    this.code = code;
    this.retriable = options.retriable ?? ERROR_CODES[code].retriable;
  }
}

/** True when `error` is a TsadError, optionally with the given code. */
export function isTsadError(error: unknown, code?: ErrorCode): error is TsadError {
  return error instanceof TsadError && (code === undefined || error.code === code);
}

/** The message of a thrown value: an Error's message, anything else as a string. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The message of a thrown value without what Node appends to a system error's
 * message after the code and reason (the call and the paths: `, open '/x/.y.tmp-1'`),
 * so a message that already names the path reads "ENOENT: no such file or directory".
 */
export function systemReason(error: unknown): string {
  const message = errorMessage(error);
  const syscall = error instanceof Error ? (error as NodeJS.ErrnoException).syscall : undefined;
  return syscall === undefined ? message : message.split(`, ${syscall}`)[0]!;
}
