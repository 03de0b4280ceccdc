import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Named in the timeout error, e.g. "InfluxDB /ping". */
  what?: string;
  /** Checked before each probe: a returned reason stops the wait at once (e.g. the server died). */
  giveUpIf?: () => string | undefined;
}

/**
 * Polls `probe` until it returns a value other than undefined, or throws
 * after `timeoutMs` with the last probe error as cause. Servers and
 * eventually-consistent reads (a Prometheus scrape) are waited for this way
 * instead of with fixed sleeps, so tests are as fast as the server allows.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  options: WaitOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const intervalMs = options.intervalMs ?? 200;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const reason = options.giveUpIf?.();
    if (reason !== undefined) {
      throw new Error(`gave up waiting for ${options.what ?? 'condition'}: ${reason}`);
    }
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const reason = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${options.what ?? 'condition'}${reason}`,
        {
          cause: lastError,
        },
      );
    }
    await sleep(intervalMs);
  }
}
