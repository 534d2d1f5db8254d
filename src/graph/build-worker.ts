/**
 * Worker-thread entry of the graph build, and the op registry the inline (one-thread) pool uses.
 * A worker attaches the shared vector arena once, then answers {id, op, args} messages until the
 * pool terminates it. Errors are caught per op and sent back; nothing here keeps a process alive
 * on its own (the pool terminates its workers in a finally).
 *
 * The prune ops ('prune.*') may come from another module (a graph variant's prune.ts, see
 * src/evolve/graph-variant.ts): `loadOps(url)` imports it and takes its `pruneOps` in place of the
 * shipped ones; every other op stays the harness's.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { attachArena, type ArenaInit } from './arena.ts';
import type { OpHandler, WorkerContext } from './worker-ops.ts';
import { nndOps } from './nn-descent.ts';
import { knnOps } from './knn.ts';
import { pruneOps } from './prune.ts';
import { vamanaOps } from './vamana.ts';
import { entryPointOps } from './entry-points.ts';
import { rpOps } from './rp-tree.ts';
import { entryLayerOps } from './entry-layer-ops.ts';

export type OpTable = Record<string, OpHandler>;

const HARNESS_OPS: OpTable = {
  ping: () => null,
  ...nndOps,
  ...knnOps,
  ...vamanaOps,
  ...entryPointOps,
  ...rpOps,
  ...entryLayerOps,
};

const DEFAULT_OPS: OpTable = { ...HARNESS_OPS, ...pruneOps };

/**
 * The op table with the prune ops of `pruneModule` (a file URL; default the shipped prune.ts).
 * The module must export `pruneOps`, an object of functions keyed 'prune.*': it may not replace
 * the harness's other ops.
 */
export async function loadOps(pruneModule?: string): Promise<OpTable> {
  if (pruneModule === undefined) return DEFAULT_OPS;
  const m = (await import(pruneModule)) as { pruneOps?: unknown };
  const ops = m.pruneOps;
  if (typeof ops !== 'object' || ops === null) throw new Error(`prune module ${pruneModule}: does not export pruneOps (an object of worker ops keyed 'prune.*')`);
  for (const [name, h] of Object.entries(ops)) {
    if (!name.startsWith('prune.')) throw new Error(`prune module: pruneOps.${name}: worker ops must be keyed 'prune.*'`);
    if (typeof h !== 'function') throw new Error(`prune module: pruneOps.${name} is not a function`);
  }
  return { ...HARNESS_OPS, ...(ops as OpTable) };
}

export function createContext(arena: ArenaInit, thread: number, threads: number): WorkerContext {
  return { arena: attachArena(arena, thread), thread, threads, cache: new Map() };
}

export function handleOp(ctx: WorkerContext, op: string, args: unknown, ops: OpTable = DEFAULT_OPS): unknown {
  const h = Object.hasOwn(ops, op) ? ops[op] : undefined;
  if (!h) throw new Error(`unknown build op '${op}'`);
  return h(ctx, args);
}

// Only a worker the pool started answers messages: importing this file elsewhere does nothing.
const data = workerData as { crinnBuildWorker?: boolean; arena: ArenaInit; thread: number; threads: number; pruneModule?: string } | null;
if (parentPort && data?.crinnBuildWorker === true) {
  const port = parentPort;
  const ctx = createContext(data.arena, data.thread, data.threads);
  // Loaded once; a module that fails to load fails every op (the pool's first ping reports it).
  const ops = loadOps(data.pruneModule);
  ops.catch(() => {});
  port.on('message', (m: { id: number; op: string; args: unknown }) => {
    // Replies stay in message order: every handler waits on the same settled promise.
    ops.then((table) => handleOp(ctx, m.op, m.args, table)).then(
      (result) => port.postMessage({ id: m.id, ok: true, result }),
      (err) => {
        const e = err instanceof Error ? err : new Error(String(err));
        port.postMessage({ id: m.id, ok: false, error: { name: e.name, message: e.message, stack: e.stack } });
      },
    );
  });
}
