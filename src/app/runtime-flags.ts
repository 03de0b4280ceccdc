/**
 * The V8 settings a config file can hold (`runtime.*`), applied by `tsad run`
 * as it starts.
 *
 * V8 normally takes its flags from the node command line, which a config file
 * cannot reach. `v8.setFlagsFromString` sets them in a running process; Node
 * does not promise what a flag changed after start does, but V8 reads the
 * heap-sizing flags each time it sizes the heap after a collection, so these
 * take effect from then on: with `optimizeForSize` the daemon of 100,000
 * sensors measured 0.69-0.73 GB instead of 1.10-1.12 GB (docs/performance.md,
 * "V8 tuned for size from the config file"). Flags are process-wide: the
 * scoring and training workers get them too.
 */
import v8 from 'node:v8';
import type { Config } from '../config/schema.ts';

/** The V8 flags the runtime settings ask for, in the order they are set. */
export function runtimeFlagsOf(runtime: Config['runtime']): string[] {
  const flags: string[] = [];
  if (runtime.optimizeForSize) flags.push('--optimize-for-size');
  return flags;
}

/** Sets the flags the runtime settings ask for; returns them (empty when none). */
export function applyRuntimeFlags(
  runtime: Config['runtime'],
  setFlags: (flag: string) => void = v8.setFlagsFromString,
): string[] {
  const flags = runtimeFlagsOf(runtime);
  for (const flag of flags) setFlags(flag);
  return flags;
}
