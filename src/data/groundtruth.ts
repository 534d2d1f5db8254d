import { createHash } from 'node:crypto';
import { copyFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { GpuContext } from '../gpu/device.ts';
import { gpuExactKnn } from './exact-knn.ts';
import { normalizeRows } from './metric.ts';
import { readFvecs, readIvecs, withTempFile, writeFvecs, writeIvecs } from './vecs.ts';
import { defaultCacheDir } from './download.ts';
import type { Metric, Neighbors, VectorSet } from './types.ts';

/** Content hash of a ground-truth question: same vectors, metric and k give the same answer. */
export function groundTruthKey(base: VectorSet, queries: VectorSet, k: number, metric: Metric): string {
  const h = createHash('sha256');
  h.update(`crinn-gt-v1|${metric}|${k}|${base.n}x${base.dim}|${queries.n}x${queries.dim}|`);
  h.update(new Uint8Array(base.data.buffer, base.data.byteOffset, base.data.byteLength));
  h.update(new Uint8Array(queries.data.buffer, queries.data.byteOffset, queries.data.byteLength));
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
  if (req.useCache !== false && existsSync(cachedIds) && existsSync(cachedDist)) {
    const [ids, dist] = await Promise.all([readIvecs(cachedIds), readFvecs(cachedDist)]);
    neighbors = { ids: ids.data, distances: dist.data, nq: ids.n, k: ids.dim };
    cached = true;
  } else {
    const ctx = await req.open();
    try {
      const t0 = performance.now();
      neighbors = await gpuExactKnn(ctx, base, queries, req.k, req.metric);
      seconds = (performance.now() - t0) / 1000;
    } finally {
      ctx.destroy();
    }
    await mkdir(dir, { recursive: true });
    await writeIvecs(cachedIds, { data: neighbors.ids, n: neighbors.nq, dim: neighbors.k });
    await writeFvecs(cachedDist, { data: neighbors.distances!, n: neighbors.nq, dim: neighbors.k });
  }
  if (!req.out) return { neighbors, cached, seconds, idsPath: cachedIds, distancesPath: cachedDist };
  const distOut = distancesPathFor(req.out);
  await withTempFile(req.out, (tmp) => copyFile(cachedIds, tmp));
  await withTempFile(distOut, (tmp) => copyFile(cachedDist, tmp));
  return { neighbors, cached, seconds, idsPath: req.out, distancesPath: distOut };
}
