/**
 * Temp files being written right now (atomic writes, downloads). A SIGINT/SIGTERM handler removes
 * them synchronously before exiting, so an interrupted run never leaves `.tmp`/`.part` files behind.
 */
import { rmSync } from 'node:fs';

const inFlight = new Set<string>();

/** Records `file` as in flight until the returned function is called. */
export function trackTemp(file: string): () => void {
  inFlight.add(file);
  return () => {
    inFlight.delete(file);
  };
}

/** Removes every tracked temp file (synchronous: safe inside a signal handler); returns how many were tracked. */
export function removeTrackedTemps(): number {
  const n = inFlight.size;
  for (const f of inFlight) rmSync(f, { force: true });
  inFlight.clear();
  return n;
}
