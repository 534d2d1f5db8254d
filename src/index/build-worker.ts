/**
 * Worker-thread entry of the graph build, and the op registry the inline (one-thread) pool uses.
 * A worker attaches the shared vector arena once, then answers {id, op, args} messages until the
 * pool terminates it. Errors are caught per op and sent back; nothing here keeps a process alive
 * on its own (the pool terminates its workers in a finally).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { attachArena, type ArenaInit } from './arena.ts';
import type { OpHandler, WorkerContext } from './pool.ts';
import { nndOps } from './nn-descent.ts';
import { knnOps } from './knn.ts';
import { pruneOps } from './prune.ts';
import { vamanaOps } from './vamana.ts';
import { entryPointOps } from './entry-points.ts';
import { rpOps } from './rp-tree.ts';

const OPS: Record<string, OpHandler> = {
  ping: () => null,
  ...nndOps,
  ...knnOps,
  ...pruneOps,
  ...vamanaOps,
  ...entryPointOps,
  ...rpOps,
};

export function createContext(arena: ArenaInit, thread: number, threads: number): WorkerContext {
  return { arena: attachArena(arena, thread), thread, threads, cache: new Map() };
}

export function handleOp(ctx: WorkerContext, op: string, args: unknown): unknown {
  const h = OPS[op];
  if (!h) throw new Error(`unknown build op '${op}'`);
  return h(ctx, args);
}

// Only a worker the pool started answers messages: importing this file elsewhere does nothing.
const data = workerData as { crinnBuildWorker?: boolean; arena: ArenaInit; thread: number; threads: number } | null;
if (parentPort && data?.crinnBuildWorker === true) {
  const port = parentPort;
  const ctx = createContext(data.arena, data.thread, data.threads);
  port.on('message', (m: { id: number; op: string; args: unknown }) => {
    try {
      port.postMessage({ id: m.id, ok: true, result: handleOp(ctx, m.op, m.args) });
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      port.postMessage({ id: m.id, ok: false, error: { name: e.name, message: e.message, stack: e.stack } });
    }
  });
}
