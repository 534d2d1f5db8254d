/**
 * What a bench system is (one interface: builds from a dataset, answers one batched search call at
 * a given effort) and the helpers the peers share (optional package loading, effort ranges). The
 * registry that creates systems by name is src/bench/systems.ts; each system's code is one file
 * under src/bench/peers/, which imports this file and never the registry.
 */
import { readFileSync } from 'node:fs';
import { UserError, oneLine } from '../errors.ts';
import type { Dataset, DatasetFilter, VectorSet } from '../data/types.ts';
import type { GpuContext } from '../gpu/device.ts';

export type SystemKind = 'gpu' | 'cpu-peer' | 'oracle';

export interface BuildInfo {
  /** Index build time as the system measured it (excluding bookkeeping such as temp files). */
  seconds: number;
  params: Record<string, unknown>;
}

export interface BenchSystem {
  name: string;
  kind: SystemKind;
  /** Search-side parameters recorded in the result (threads, metric mapping, ...). */
  params: Record<string, unknown>;
  /** Initial sweep list; empty means one fixed point (effort is ignored). */
  efforts: number[];
  minEffort: number;
  maxEffort: number;
  /** Efforts below k act like k (HNSW ef, itopk): the sweep then starts at k instead of measuring copies. */
  effortAtLeastK?: boolean;
  /** Library versions to record in the result, e.g. { usearch: '2.26.2' }. */
  versions?: Record<string, string>;
  build(ds: Dataset): Promise<BuildInfo>;
  /**
   * One batched search over all queries: nq * k ids, row-major, -1 where a row has fewer than k.
   * `filter` (systems with `filters: true`): only ids passing each query's filter may come back.
   */
  search(queries: VectorSet, k: number, effort: number, filter?: DatasetFilter): Promise<Int32Array>;
  /** Searches under a per-query filter (a filtered dataset, src/data/types.ts DatasetFilter). */
  filters?: boolean;
  /** Mean distance evaluations per query at this effort (work that carries over between adapters), where the system can count them. */
  evaluations?(queries: VectorSet, k: number, effort: number): Promise<number>;
  /** Mean bytes of base rows read per query at this effort (the rows as stored: codes, then f32 rerank rows), where the system can count them. */
  bytesRead?(queries: VectorSet, k: number, effort: number): Promise<number>;
  /** Frees native/GPU resources; must not destroy the shared GPU context. */
  close(): Promise<void>;
}

/** What a factory gets from the bench driver. */
export interface SystemEnv {
  /** The bench's shared GPU context, opened on first call; owned by the driver, never destroy it. */
  gpu: () => Promise<GpuContext>;
}

/** Options every factory understands where they apply; unknown ones are ignored. */
export interface SystemOptions {
  /** Graph degree (HNSW M / usearch connectivity). */
  M?: number;
  /** Candidate list size while building (efConstruction / expansion_add). */
  efConstruction?: number;
  /** Worker threads for build and search (default: all cores where the library can use them). */
  threads?: number;
  /** Initial sweep efforts (overrides the system's default list). */
  efforts?: number[];
  minEffort?: number;
  maxEffort?: number;
  /** Build seed where the library takes one. */
  seed?: number;
}

export interface SystemEntry {
  kind: SystemKind;
  description: string;
  /** Selectable with `crinn bench --peers`; the project's own systems go through --systems. */
  peer: boolean;
  create(env: SystemEnv, options: SystemOptions): Promise<BenchSystem>;
}

/** Thrown when an optional peer package cannot be loaded; runBench records it and goes on. */
export class PeerUnavailableError extends Error {
  override name = 'PeerUnavailableError';
}

/** Dynamic import of an optional package with a message that says how to get it. */
export async function importPeer<T>(pkg: string): Promise<T> {
  try {
    return (await import(pkg)) as T;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') throw new PeerUnavailableError(`${pkg} is not installed: npm install ${pkg}`);
    throw new PeerUnavailableError(`${pkg} failed to load: ${oneLine(err)}`);
  }
}

/** The installed version of a package (walks up from its entry point to its package.json); undefined when absent. */
export function packageVersion(pkg: string): string | undefined {
  let url: URL;
  try {
    url = new URL(import.meta.resolve(pkg));
  } catch {
    return undefined;
  }
  for (let dir = new URL('.', url); dir.pathname !== '/'; dir = new URL('..', dir)) {
    try {
      const json = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string };
      if (json.name === pkg) return json.version;
    } catch {
      // not this folder; keep walking up
    }
  }
  return undefined;
}

/** Validates effort-related options against the system's defaults. */
export function effortRange(name: string, o: SystemOptions, defaults: { efforts: number[]; minEffort: number; maxEffort: number }): { efforts: number[]; minEffort: number; maxEffort: number } {
  const minEffort = o.minEffort ?? defaults.minEffort;
  const maxEffort = o.maxEffort ?? defaults.maxEffort;
  if (!(Number.isInteger(minEffort) && Number.isInteger(maxEffort) && minEffort >= 1 && minEffort <= maxEffort)) {
    throw new UserError(`${name}: effort range must be integers with 1 <= min <= max, got ${minEffort}..${maxEffort}`);
  }
  const efforts = (o.efforts ?? defaults.efforts).filter((e) => e >= minEffort && e <= maxEffort);
  if (efforts.length === 0) efforts.push(Math.min(maxEffort, Math.max(minEffort, defaults.efforts[0] ?? minEffort)));
  return { efforts, minEffort, maxEffort };
}

/** Positive-integer option check with a message naming the system and field. */
export function intOption(name: string, field: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!(Number.isInteger(v) && v >= 1)) throw new UserError(`${name}: ${field} must be a positive integer, got ${v}`);
  return v;
}

/** nq * k ids filled with -1, for libraries that may return short rows. */
export function emptyIds(nq: number, k: number): Int32Array {
  return new Int32Array(nq * k).fill(-1);
}
