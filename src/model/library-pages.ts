/**
 * Hands the pages of the native TensorFlow library back to the kernel.
 *
 * Loading libtensorflow (788 MB of file) runs the static initialisers that
 * register every op and kernel, and they leave about 300 MB of its code and
 * constants resident, most of which the daemon never touches again: scoring
 * and training a small autoencoder use a few dozen MB of it. That is a third
 * of the memory of a daemon with 100,000 sensors (docs/performance.md). The
 * pages are clean file pages, so `madvise(MADV_PAGEOUT)` drops them at no
 * risk, and the kernel reads a page again from the file when it is next used.
 *
 * The call needs native code (native/page-out, built at install when a C
 * compiler is there); without it, or off Linux, `releaseLibraryPages` reports
 * why and does nothing.
 */

import fs from 'node:fs';
import { createRequire } from 'node:module';

/** One line of /proc/self/maps that is a read-only, private mapping of a file. */
export interface FileMapping {
  start: bigint;
  end: bigint;
  path: string;
}

export type PageRelease =
  | {
      released: true;
      /** Mappings advised, and how many of them the kernel refused. */
      mappings: number;
      failures: number;
      /** The process's resident file pages (RssFile) before and after, in bytes. */
      residentFileBefore: number;
      residentFileAfter: number;
    }
  | { released: false; reason: string };

interface PageOutAddon {
  pageOut(start: bigint, length: bigint): number;
}

/** The library files whose pages are released: libtensorflow_cc and libtensorflow_framework. */
const LIBRARY = /\/libtensorflow[^/]*\.so[^/]*$/;

/**
 * The read-only private mappings (code `r-xp`, constants `r--p`) of files
 * matching `library` in the text of /proc/<pid>/maps. Writable mappings and
 * anything else are left alone.
 */
export function readOnlyMappings(maps: string, library: RegExp = LIBRARY): FileMapping[] {
  const mappings: FileMapping[] = [];
  for (const line of maps.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 6) continue;
    const [range, perms] = fields;
    const path = fields.slice(5).join(' ');
    if (perms !== 'r-xp' && perms !== 'r--p') continue;
    if (!library.test(path)) continue;
    const [start, end] = range!.split('-');
    mappings.push({ start: BigInt(`0x${start}`), end: BigInt(`0x${end}`), path });
  }
  return mappings;
}

let addon: PageOutAddon | string | undefined;

/** The native helper, or why it is not there. */
function loadAddon(): PageOutAddon | string {
  if (addon !== undefined) return addon;
  if (process.platform !== 'linux') {
    addon = 'only on Linux';
    return addon;
  }
  try {
    const require = createRequire(import.meta.url);
    addon = require('../../native/page-out/build/Release/page_out.node') as PageOutAddon;
  } catch (error) {
    addon = `native/page-out is not built (npm install builds it with node-gyp and a C compiler): ${(error as Error).message.split('\n')[0]}`;
  }
  return addon;
}

/**
 * Asks the kernel to drop the resident pages of the TensorFlow library's
 * read-only mappings in this process. Call it once the library is loaded and
 * after work that touched much of it (a training); the pages scoring needs
 * come back on first use.
 */
export function releaseLibraryPages(): PageRelease {
  const native = loadAddon();
  if (typeof native === 'string') return { released: false, reason: native };
  const mappings = readOnlyMappings(fs.readFileSync('/proc/self/maps', 'utf8'));
  if (mappings.length === 0)
    return { released: false, reason: 'the TensorFlow library is not loaded' };
  const residentFileBefore = residentFileBytes();
  let failures = 0;
  for (const mapping of mappings) {
    if (native.pageOut(mapping.start, mapping.end - mapping.start) !== 0) failures++;
  }
  if (failures === mappings.length) {
    return {
      released: false,
      reason: 'the kernel refused MADV_PAGEOUT (Linux 5.4 or newer needed)',
    };
  }
  const residentFileAfter = residentFileBytes();
  return {
    released: true,
    mappings: mappings.length,
    failures,
    residentFileBefore,
    residentFileAfter,
  };
}

/** RssFile of /proc/self/status in bytes (0 if the line is missing). */
export function residentFileBytes(): number {
  const match = /^RssFile:\s+(\d+) kB$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}
