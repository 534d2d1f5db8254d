/**
 * Host memory around a build or a sweep: the process's resident set sampled every 100 ms (worker
 * threads and native code count too, as they share the process) and at the end. Systems run in one
 * process one after another, so each figure is the peak while that system ran, beside the resident
 * set it started from (what earlier systems still hold). Device memory (GPU systems) is the
 * project's own buffers on the shared context (src/gpu/memory.ts): what the index holds after its
 * build, and the peak during its timed calls.
 */
import type { BenchResult } from './schema.ts';

const MiB = 2 ** 20;

export interface RssWindow {
  /** Resident set when the window opened, MiB. */
  startMiB: number;
  /** Highest resident set seen while it was open, MiB. */
  peakMiB: number;
}

/** Opens a sampling window; `stop()` closes it and returns the figures. */
export function trackRss(): { stop(): RssWindow } {
  const start = process.memoryUsage.rss();
  let peak = start;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 100);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      peak = Math.max(peak, process.memoryUsage.rss());
      return { startMiB: Math.round(start / MiB), peakMiB: Math.round(peak / MiB) };
    },
  };
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** One line per system that recorded memory: peak host memory of its build and its sweep, and crinn's bytes per vector. */
export function memoryLines(result: BenchResult): string[] {
  const lines: string[] = [];
  for (const s of result.systems) {
    const b = s.build.params as Record<string, unknown>;
    const mem = b.rss as RssWindow | undefined;
    const search = (s.params as Record<string, unknown>).searchRss as RssWindow | undefined;
    const bpv = b.indexBytesPerVector as Record<string, unknown> | undefined;
    const deviceIndex = num(b.deviceIndexBytes);
    const deviceSearch = num((s.params as Record<string, unknown>).searchDevicePeakBytes);
    const parts: string[] = [];
    if (mem && num(mem.peakMiB) !== undefined) parts.push(`build peak RSS ${mem.peakMiB} MiB (from ${mem.startMiB})`);
    if (search && num(search.peakMiB) !== undefined) parts.push(`search peak RSS ${search.peakMiB} MiB`);
    if (deviceIndex !== undefined) parts.push(`device: index ${(deviceIndex / MiB).toFixed(1)} MiB`);
    if (deviceSearch !== undefined) parts.push(`device search peak ${(deviceSearch / MiB).toFixed(1)} MiB (all GPU systems' buffers then live)`);
    if (bpv) parts.push(`bytes/vector: ${Object.entries(bpv).map(([k, v]) => `${k} ${typeof v === 'number' ? v.toFixed(1) : String(v)}`).join(', ')}`);
    if (parts.length) lines.push(`memory ${s.name}: ${parts.join('; ')}`);
  }
  return lines;
}
