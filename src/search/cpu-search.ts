import { UserError } from '../errors.ts';
import { distance } from '../data/metric.ts';
import type { Neighbors, VectorSet } from '../data/types.ts';
import { resolveSearchParams, type SearchParams } from './params.ts';
import type { SearchableIndex } from './gpu-search.ts';

const NONE = 0xffffffff;

/** The per-query pseudo-random seed node of beam_search.wgsl, in u32 arithmetic. */
export function seedNode(q: number, j: number, seed: number, entries: Uint32Array, n: number): number {
  if (j < entries.length) return entries[j];
  let h = (Math.imul((q + seed) >>> 0, 0x9e3779b1) ^ Math.imul(j, 0x85ebca6b)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  h ^= h >>> 15;
  return (h >>> 0) % n;
}

/**
 * CPU reference of the GPU beam search (same seeds, parent choice, candidate order and merge
 * rule; an exact visited set instead of the forgettable hash). Slow and simple: the oracle the
 * GPU kernel is tested against on the same graph.
 */
export function cpuBeamSearch(index: SearchableIndex, queries: VectorSet, k: number, params: Partial<SearchParams> = {}, seed = 0): Neighbors {
  if (queries.dim !== index.dim) throw new UserError(`queries: dimension ${queries.dim} does not match the index's ${index.dim}`);
  const p = resolveSearchParams({ ...params, refine: 0 }, k, index.graph.degree, false, index.entryPoints.length, index.n);
  const { degree, neighbors } = index.graph;
  const { itopk, searchWidth: sw, maxIterations, numSeeds } = p;
  const ids = new Int32Array(queries.n * k);
  const dists = new Float32Array(queries.n * k);
  const topD = new Float64Array(itopk);
  const topI = new Float64Array(itopk); // ids; expanded flag kept apart
  const expanded = new Uint8Array(itopk);
  const dist = (q: number, row: number) => Math.fround(distance(index.metric, queries.data, q, index.vectors, row, index.dim));

  for (let q = 0; q < queries.n; q++) {
    topD.fill(Infinity);
    topI.fill(NONE);
    expanded.fill(0);
    const visited = new Set<number>();
    const merge = (cd: number[], ci: number[]) => {
      for (let c = 0; c < cd.length; c++) {
        const d = cd[c];
        if (!(d < topD[itopk - 1])) continue;
        let pos = itopk - 1;
        while (pos > 0 && topD[pos - 1] > d) {
          topD[pos] = topD[pos - 1];
          topI[pos] = topI[pos - 1];
          expanded[pos] = expanded[pos - 1];
          pos--;
        }
        topD[pos] = d;
        topI[pos] = ci[c];
        expanded[pos] = 0;
      }
    };
    const cd: number[] = [];
    const ci: number[] = [];
    for (let j = 0; j < numSeeds; j++) {
      const node = seedNode(q, j, seed, index.entryPoints, index.n);
      if (visited.has(node)) continue;
      visited.add(node);
      cd.push(dist(q, node));
      ci.push(node);
    }
    merge(cd, ci);
    for (let it = 0; it < maxIterations; it++) {
      const parents: number[] = [];
      for (let j = 0; j < itopk && parents.length < sw; j++) {
        if (topI[j] !== NONE && !expanded[j]) {
          parents.push(topI[j]);
          expanded[j] = 1;
        }
      }
      if (parents.length === 0) break;
      cd.length = 0;
      ci.length = 0;
      for (const parent of parents) {
        for (let j = 0; j < degree; j++) {
          const nb = neighbors[parent * degree + j];
          if (nb >= index.n || visited.has(nb)) continue;
          visited.add(nb);
          cd.push(dist(q, nb));
          ci.push(nb);
        }
      }
      merge(cd, ci);
    }
    for (let j = 0; j < k; j++) {
      ids[q * k + j] = topI[j] === NONE ? -1 : topI[j];
      dists[q * k + j] = topD[j];
    }
  }
  return { ids, distances: dists, nq: queries.n, k };
}
