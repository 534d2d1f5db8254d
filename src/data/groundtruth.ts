import { createHash } from 'node:crypto';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { GpuContext } from '../gpu/device.ts';
import { gpuExactKnn } from './exact-knn.ts';
import { distance, normalizeRows } from './metric.ts';
import { readFvecs, readIvecs, withTempFiles, writeNeighborFiles } from './vecs.ts';
import { assertDistancesFit } from './validate.ts';
import { defaultCacheDir } from './download.ts';
import type { Metric, Neighbors, VectorSet } from './types.ts';
import { updateHash } from './hash-bytes.ts';

/** Content hash of a ground-truth question: same vectors, metric and k give the same answer. */
export function groundTruthKey(base: VectorSet, queries: VectorSet, k: number, metric: Metric): string {
  const h = createHash('sha256');
  h.update(`crinn-gt-v1|${metric}|${k}|${base.n}x${base.dim}|${queries.n}x${queries.dim}|`);
  updateHash(h, new Uint8Array(base.data.buffer, base.data.byteOffset, base.data.byteLength));
  updateHash(h, new Uint8Array(queries.data.buffer, queries.data.byteOffset, queries.data.byteLength));
  return h.digest('hex');
}

/** `x.ivecs` -> `x.fvecs` (distances beside the ids). */
export function distancesPathFor(idsPath: string): string {
  return idsPath.replace(/\.ivecs$/i, '') + '.fvecs';
}

export interface GroundTruthRequest {
  base: VectorSet;
  queries: VectorSet;
  k: number;
  metric: Metric;
  /** Where to write ids (.ivecs); distances go beside it as .fvecs. Optional for library use. */
  out?: string;
  cacheDir?: string;
  useCache?: boolean;
  baseLabel?: string;
  queriesLabel?: string;
  /** Told why a cache entry was thrown away and recomputed (default: silent). */
  onCacheRejected?: (reason: string) => void;
  /** Opens the GPU lazily, so a cache hit never touches the device. */
  open: () => Promise<GpuContext>;
}

export interface GroundTruthResult {
  neighbors: Neighbors;
  cached: boolean;
  seconds?: number;
  idsPath: string;
  distancesPath: string;
}

/**
 * Exact kNN on the GPU, cached on disk by content hash so repeated runs are instant.
 * Angular inputs are normalised here (a copy), as everywhere else in the pipeline.
 */
export async function computeGroundTruth(req: GroundTruthRequest): Promise<GroundTruthResult> {
  let { base, queries } = req;
  // Overflowing float32 distances would come back as -1 ids with no error.
  assertDistancesFit(base, req.metric, req.baseLabel ?? 'base');
  assertDistancesFit(queries, req.metric, req.queriesLabel ?? 'queries');
  if (req.metric === 'angular') {
    base = { ...base, data: base.data.slice() };
    queries = { ...queries, data: queries.data.slice() };
    normalizeRows(base, req.baseLabel ?? 'base');
    normalizeRows(queries, req.queriesLabel ?? 'queries');
  }
  const dir = path.join(req.cacheDir ?? defaultCacheDir(), 'groundtruth');
  const key = groundTruthKey(base, queries, req.k, req.metric);
  const cachedIds = path.join(dir, `${key}.ivecs`);
  const cachedDist = distancesPathFor(cachedIds);
  let neighbors: Neighbors;
  let cached = false;
  let seconds: number | undefined;
  const hit = req.useCache !== false && existsSync(cachedIds) && existsSync(cachedDist) ? await readCacheEntry(cachedIds, cachedDist, base, queries, req.k, req.metric) : undefined;
  if (hit && 'neighbors' in hit) {
    neighbors = hit.neighbors;
    cached = true;
  } else {
    if (hit) req.onCacheRejected?.(hit.rejected);
    const ctx = await req.open();
    try {
      const t0 = performance.now();
      neighbors = await gpuExactKnn(ctx, base, queries, req.k, req.metric);
      seconds = (performance.now() - t0) / 1000;
    } finally {
      ctx.destroy();
    }
    await mkdir(dir, { recursive: true });
    await writeNeighborFiles(cachedIds, { data: neighbors.ids, n: neighbors.nq, dim: neighbors.k }, cachedDist, { data: neighbors.distances!, n: neighbors.nq, dim: neighbors.k });
  }
  if (!req.out) return { neighbors, cached, seconds, idsPath: cachedIds, distancesPath: cachedDist };
  const distOut = distancesPathFor(req.out);
  await withTempFiles([req.out, distOut], async ([ti, td]) => {
    await copyFile(cachedIds, ti);
    await copyFile(cachedDist, td);
  });
  return { neighbors, cached, seconds, idsPath: req.out, distancesPath: distOut };
}

/**
 * A cache entry is only served when it answers this exact question: the right shape, every id a
 * row of the base, and every stored distance equal to the one recomputed for that id, in
 * ascending order. Anything else (an edited, truncated or foreign file) is deleted and recomputed.
 */
export async function readCacheEntry(idsFile: string, distFile: string, base: VectorSet, queries: VectorSet, k: number, metric: Metric): Promise<{ neighbors: Neighbors } | { rejected: string }> {
  const reject = async (why: string) => {
    await Promise.all([rm(idsFile, { force: true }), rm(distFile, { force: true })]);
    return { rejected: `ground-truth cache ${idsFile}: ${why}; recomputing` };
  };
  let ids, dist;
  try {
    [ids, dist] = await Promise.all([readIvecs(idsFile), readFvecs(distFile)]);
  } catch (err) {
    return reject((err as Error).message);
  }
  if (ids.n !== queries.n || ids.dim !== k || dist.n !== queries.n || dist.dim !== k) {
    return reject(`holds ${ids.n} x ${ids.dim} ids and ${dist.n} x ${dist.dim} distances, expected ${queries.n} x ${k}`);
  }
  const rel = Math.max(1e-5, 2 * base.dim * 2 ** -24);
  for (let q = 0; q < ids.n; q++) {
    for (let j = 0; j < k; j++) {
      const id = ids.data[q * k + j];
      if (!(id >= 0 && id < base.n)) return reject(`query ${q} lists id ${id}, outside the base's 0..${base.n - 1}`);
      const d = dist.data[q * k + j];
      const want = distance(metric, queries.data, q, base.data, id, base.dim);
      // f32 GPU sums against an f64 CPU sum: the error grows with dim and with the norms, not with
      // the (possibly cancelling) result; a wrong id is off by far more.
      const scale = Math.abs(want) + norm2(queries, q) + norm2(base, id);
      if (!(Math.abs(d - want) <= rel * scale + 1e-6)) return reject(`query ${q}, id ${id}: stored distance ${d}, recomputed ${want}`);
      if (j > 0 && d < dist.data[q * k + j - 1]) return reject(`query ${q}: distances not in ascending order at position ${j}`);
    }
  }
  return { neighbors: { ids: ids.data, distances: dist.data, nq: ids.n, k } };
}

function norm2(set: VectorSet, row: number): number {
  let s = 0;
  for (let t = row * set.dim, end = t + set.dim; t < end; t++) s += set.data[t] * set.data[t];
  return s;
}
