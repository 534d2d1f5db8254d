/**
 * What a build op sees and what it may ask of the pool, apart from the pool itself
 * (src/graph/pool.ts), so the ops (nn-descent.ts, prune.ts, ...) and the worker entry
 * (build-worker.ts) that the pool loads do not import the pool back.
 */
import type { Arena } from './arena.ts';

/** What an op sees on its thread. */
export interface WorkerContext {
  arena: Arena;
  thread: number;
  threads: number;
  /** Per-thread scratch kept across ops (stamp arrays and the like), keyed by the op's module. */
  cache: Map<string, unknown>;
}

export type OpHandler = (ctx: WorkerContext, args: any) => unknown;

/** The pool as an op's driver sees it: WorkerPool, or anything that runs an op on every thread. */
export interface OpPool {
  readonly threads: number;
  /** Runs `op` on every thread with its own `args(thread)`; resolves with each thread's result when all have finished. */
  run<R>(op: string, args: (thread: number) => unknown): Promise<R[]>;
}

/** Split [0, n) into `parts` contiguous ranges; part t is [lo, hi). */
export function rangeOf(n: number, parts: number, t: number): { lo: number; hi: number } {
  return { lo: Math.floor((n * t) / parts), hi: Math.floor((n * (t + 1)) / parts) };
}
