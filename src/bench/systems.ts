/**
 * The systems a bench measures, created by name: the project's GPU search, the CPU peers (usearch,
 * hnswlib-node), and exact baselines (their interface: src/bench/bench-system.ts). A system is
 * anything that builds from a dataset and answers one batched search call at a given effort
 * (ef / itopk). Adding a system is one file under src/bench/peers/ and one `SYSTEMS` entry;
 * `runBench` needs nothing else.
 */
import { UserError } from '../errors.ts';
import type { BenchSystem, SystemEntry, SystemEnv, SystemOptions } from './bench-system.ts';

/**
 * The registry. The project's graph search registers here as
 * `crinn: { kind: 'gpu', peer: false, description, create: (env, o) => import('../search/...').then(...) }`
 * with effort = itopk; modules load lazily so a missing optional peer breaks nothing else.
 */
const SYSTEMS = new Map<string, SystemEntry>([
  [
    'crinn',
    {
      kind: 'gpu',
      peer: false,
      description: "this project's graph ANN: CPU-built graph, batched beam search in WGSL (effort = itopk)",
      create: async (env, o) => (await import('./peers/crinn.ts')).createCrinn(env, o),
    },
  ],
  [
    'crinn-kernel',
    {
      kind: 'gpu',
      peer: false,
      description: 'crinn with a tuned-kernel bundle (`crinn bench --kernel DIR`): the bundle for this adapter, its WGSL and knob values',
      create: async (env, o) => {
        const c = o as import('./peers/crinn.ts').CrinnSystemOptions;
        if (c.kernels === undefined) throw new UserError('system crinn-kernel: needs a kernel bundle (crinn bench --kernel DIR)');
        return (await import('./peers/crinn.ts')).createCrinn(env, c);
      },
    },
  ],
  [
    'gpu-exact',
    {
      kind: 'gpu',
      peer: true,
      description: "this project's exact kNN (GpuBruteForce), one fixed point",
      create: async (env, o) => (await import('./peers/gpu-exact.ts')).createGpuExact(env, o),
    },
  ],
  [
    'usearch',
    {
      kind: 'cpu-peer',
      peer: true,
      description: 'usearch HNSW, batched search on all cores',
      create: async (env, o) => (await import('./peers/usearch.ts')).createUsearch(env, o),
    },
  ],
  [
    'hnswlib',
    {
      kind: 'cpu-peer',
      peer: true,
      description: 'hnswlib-node HNSW, one thread, one query per call',
      create: async (env, o) => (await import('./peers/hnswlib.ts')).createHnswlib(env, o),
    },
  ],
  [
    'bruteforce',
    {
      kind: 'oracle',
      peer: true,
      description: 'plain TypeScript exact scan, one fixed point',
      create: async (env, o) => (await import('./peers/bruteforce.ts')).createBruteForce(env, o),
    },
  ],
]);

/** Adds (or replaces) a system; for the project's own search and for tests. */
export function registerSystem(name: string, entry: SystemEntry): void {
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(name)) throw new UserError(`system name '${name}': use lower-case letters, digits, '.', '_' and '-'`);
  SYSTEMS.set(name, entry);
}

export function unregisterSystem(name: string): void {
  SYSTEMS.delete(name);
}

export function systemNames(): string[] {
  return [...SYSTEMS.keys()];
}

export function peerNames(): string[] {
  return [...SYSTEMS].filter(([, e]) => e.peer).map(([n]) => n);
}

export function systemEntry(name: string): SystemEntry {
  const e = SYSTEMS.get(name);
  if (!e) throw new UserError(`unknown system '${name}'; known: ${systemNames().join(', ')}`);
  return e;
}

/** Creates a system by name; an unknown name is a UserError, a missing optional package rejects with a one-line reason. */
export function createSystem(name: string, env: SystemEnv, options: SystemOptions = {}): Promise<BenchSystem> {
  return systemEntry(name).create(env, options);
}
