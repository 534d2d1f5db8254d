import { UserError } from '../errors.ts';
import { distance } from '../data/metric.ts';
import type { Neighbors, VectorSet } from '../data/types.ts';
import { resolveSearchParams, type SearchParams } from './params.ts';
import { entryLayerOf, type SearchableIndex } from './searchable-index.ts';

const NONE = 0xffffffff;

export interface CpuSearchResult extends Neighbors {
  /** Distance evaluations per query (entry layer + main graph; refinement not included). */
  evaluations: Uint32Array;
}

/**
 * CPU reference of the GPU beam search (same two phases, seeds, parent choice, candidate order and
 * merge rule; an exact visited set instead of the forgettable hash). Slow and simple: the oracle
 * the GPU kernel is tested against on the same graph, and the counter of distance evaluations.
 *
 * Phase 1 searches the entry layer: start from its first numSeeds nodes, keep a list of entryBeam,
 * expand until converged or entryIterations. Phase 2 starts from that list (ids mapped to the base,
 * distances kept, nothing expanded) in a list of itopk and expands the main graph.
 */
export function cpuBeamSearch(index: SearchableIndex, queries: VectorSet, k: number, params: Partial<SearchParams> = {}): CpuSearchResult {
  if (queries.dim !== index.dim) throw new UserError(`queries: dimension ${queries.dim} does not match the index's ${index.dim}`);
  const layer = entryLayerOf(index);
  const p = resolveSearchParams({ ...params, refine: 0 }, k, index.graph.degree, false, layer.ids.length, layer.degree);
  const { degree, neighbors } = index.graph;
  const { itopk, searchWidth: sw, maxIterations, numSeeds, entryBeam, entryIterations } = p;
  const ids = new Int32Array(queries.n * k);
  const dists = new Float32Array(queries.n * k);
  const evaluations = new Uint32Array(queries.n);
  const topD = new Float64Array(itopk);
  const topI = new Float64Array(itopk); // ids; expanded flag kept apart
  const expanded = new Uint8Array(itopk);
  let evals = 0;
  const dist = (q: number, row: number) => {
    evals++;
    return Math.fround(distance(index.metric, queries.data, q, index.vectors, row, index.dim));
  };
  // Sequential sorted insert of each candidate into the first `len` slots (strict: ties keep the earlier).
  const merge = (cd: number[], ci: number[], len: number) => {
    for (let c = 0; c < cd.length; c++) {
      const d = cd[c];
      if (!(d < topD[len - 1])) continue;
      let pos = len - 1;
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
  // Expand up to `cap` times within the first `len` slots; node ids go through `rowOf` to base rows.
  const expand = (q: number, visited: Set<number>, len: number, cap: number, g: Uint32Array, deg: number, count: number, rowOf: (v: number) => number) => {
    for (let it = 0; it < cap; it++) {
      const parents: number[] = [];
      for (let j = 0; j < len && parents.length < sw; j++) {
        if (topI[j] !== NONE && !expanded[j]) {
          parents.push(topI[j]);
          expanded[j] = 1;
        }
      }
      if (parents.length === 0) break;
      cd.length = 0;
      ci.length = 0;
      for (const parent of parents) {
        for (let j = 0; j < deg; j++) {
          const nb = g[parent * deg + j];
          if (nb >= count || visited.has(nb)) continue;
          visited.add(nb);
          cd.push(dist(q, rowOf(nb)));
          ci.push(nb);
        }
      }
      merge(cd, ci, len);
    }
  };

  const m = layer.ids.length;
  for (let q = 0; q < queries.n; q++) {
    evals = 0;
    topD.fill(Infinity);
    topI.fill(NONE);
    expanded.fill(0);
    // Phase 1: the entry layer, local ids.
    let visited = new Set<number>();
    cd.length = 0;
    ci.length = 0;
    for (let j = 0; j < numSeeds; j++) {
      visited.add(j);
      cd.push(dist(q, layer.ids[j]));
      ci.push(j);
    }
    merge(cd, ci, entryBeam);
    expand(q, visited, entryBeam, entryIterations, layer.neighbors, layer.degree, m, (v) => layer.ids[v]);
    // Phase 2: the main graph, from the entry layer's list.
    visited = new Set<number>();
    for (let j = 0; j < entryBeam; j++) {
      expanded[j] = 0;
      if (topI[j] !== NONE) {
        topI[j] = layer.ids[topI[j]];
        visited.add(topI[j]);
      }
    }
    expand(q, visited, itopk, maxIterations, neighbors, degree, index.n, (v) => v);
    for (let j = 0; j < k; j++) {
      ids[q * k + j] = topI[j] === NONE ? -1 : topI[j];
      dists[q * k + j] = topD[j];
    }
    evaluations[q] = evals;
  }
  return { ids, distances: dists, nq: queries.n, k, evaluations };
}
