/**
 * The build's worker pool: spawned once per build, closed at its end. Every phase of the build is
 * an "op" run by all threads at once over shared memory (the vector arena and SharedArrayBuffers
 * passed in the op's arguments); `run` resolves when every thread has finished, which is the
 * phase barrier. With one thread the ops run inline on the calling thread: same code, no worker
 * start-up, fully deterministic.
 */
import { Worker } from 'node:worker_threads';
import { UserError } from '../errors.ts';
import type { ArenaInit } from './arena.ts';
import { createContext, handleOp, loadOps, type OpTable } from './build-worker.ts';
import type { OpPool, WorkerContext } from './worker-ops.ts';

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: { name: string; message: string; stack?: string };
}

function reviveError(e: { name: string; message: string; stack?: string }): Error {
  if (e.name === 'UserError') return new UserError(e.message);
  const err = new Error(`graph build worker: ${e.message}`);
  if (e.stack) err.stack = e.stack;
  return err;
}

export class WorkerPool implements OpPool {
  readonly threads: number;
  #workers: Worker[] = [];
  #inline: WorkerContext | null = null;
  #inlineOps: OpTable | undefined;
  #pending = new Map<number, Pending>();
  #nextId = 0;
  #failure: Error | null = null;
  #closed = false;

  private constructor(threads: number) {
    this.threads = threads;
  }

  /**
   * Start `threads` workers over the arena (none for threads = 1). `pruneModule`: a file URL whose
   * `pruneOps` replace the shipped prune ops on every thread (build-worker.ts loadOps).
   */
  static async create(arena: ArenaInit, threads: number, pruneModule?: string): Promise<WorkerPool> {
    const pool = new WorkerPool(threads);
    if (threads === 1) {
      pool.#inlineOps = await loadOps(pruneModule);
      pool.#inline = createContext(arena, 0, 1);
      return pool;
    }
    // From src/ the worker is the .ts source; from the built dist/ it is the emitted .js.
    const url = new URL(import.meta.url.endsWith('.ts') ? './build-worker.ts' : './build-worker.js', import.meta.url);
    for (let t = 0; t < threads; t++) {
      const w = new Worker(url, { workerData: { crinnBuildWorker: true, arena, thread: t, threads, pruneModule } });
      w.on('message', (m: Reply) => pool.#onReply(m));
      w.on('error', (err) => pool.#fail(err instanceof Error ? err : new Error(String(err))));
      w.on('exit', (code) => {
        if (!pool.#closed) pool.#fail(new Error(`graph build worker ${t} exited unexpectedly (code ${code})`));
      });
      pool.#workers.push(w);
    }
    try {
      // A round trip proves every worker loaded its modules and attached the arena.
      await pool.run('ping', () => null);
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  #onReply(m: Reply): void {
    const p = this.#pending.get(m.id);
    if (!p) return;
    this.#pending.delete(m.id);
    if (m.ok) p.resolve(m.result);
    else p.reject(reviveError(m.error!));
  }

  #fail(err: Error): void {
    if (!this.#failure) this.#failure = err;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }

  /** Run `op` on every thread with per-thread arguments; resolves with the results in thread order. */
  async run<R>(op: string, args: (thread: number) => unknown): Promise<R[]> {
    if (this.#closed) throw new Error('graph build: worker pool already closed');
    if (this.#failure) throw this.#failure;
    if (this.#inline) return [handleOp(this.#inline, op, args(0), this.#inlineOps) as R];
    const jobs = this.#workers.map((w, t) => {
      const id = this.#nextId++;
      return new Promise<R>((resolve, reject) => {
        this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        w.postMessage({ id, op, args: args(t) });
      });
    });
    try {
      return await Promise.all(jobs);
    } catch (err) {
      // The other threads may still be inside the op: the pool is unusable, the build's finally
      // terminates it.
      this.#failure ??= err as Error;
      throw err;
    }
  }

  /** Terminate the workers; safe to call twice and after a failure. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const workers = this.#workers;
    this.#workers = [];
    await Promise.all(workers.map((w) => w.terminate().catch(() => 0)));
  }
}

// Graph variants written before worker-ops.ts existed import rangeOf from './pool.ts' (their
// relative imports resolve to this folder: src/evolve/graph-variant.ts); it stays importable here.
export { rangeOf } from './worker-ops.ts';
