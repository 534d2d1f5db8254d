/**
 * Graph diagnostics on a synthetic set (issue 20): build with the given params, then report
 * - build time and phases, NN-descent rounds;
 * - kNN-graph recall of the lists the prune starts from, against exact neighbours of a sample;
 * - the pruned graph: in-degree distribution, reachability from the entry points, the largest
 *   strongly connected component, the share of edges that cross clusters, clusters whose rows have
 *   no edge leaving the cluster;
 * - recall@10 and distance evaluations per query of the CPU reference search at several efforts,
 *   against exact brute force, and how the misses split (query in the wrong cluster or not).
 *
 *   node scripts/graph-diagnostics.ts --dataset synthetic-200000 [--params '{"graphDegree":64}']
 *     [--efforts 16,32,64,128] [--queries 500] [--sample 300] [--threads 2] [--search '{"numSeeds":64}']
 * Exact truths are cached under $TMPDIR (by dataset name and query count).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { generateSynthetic, parseSyntheticName } from '../src/data/synthetic.ts';
import { bruteForceKnn } from '../src/data/metric.ts';
import { buildGraph } from '../src/graph/build.ts';
import { NO_NEIGHBOR } from '../src/graph/graph.ts';
import { buildEntryLayer } from '../src/graph/entry-layer.ts';
import { cpuBeamSearch } from '../src/search/cpu-search.ts';
import { recallAtK } from '../src/bench/recall.ts';
import type { VectorSet, Neighbors } from '../src/data/types.ts';

const { values } = parseArgs({
  options: {
    dataset: { type: 'string', default: 'synthetic-200000' },
    params: { type: 'string', default: '{}' },
    efforts: { type: 'string', default: '16,32,64,128' },
    queries: { type: 'string', default: '500' },
    sample: { type: 'string', default: '300' },
    threads: { type: 'string', default: '2' },
    search: { type: 'string', default: '{}' },
    reuse: { type: 'boolean', default: false },
    layer: { type: 'string', default: '{}' },
  },
});
const spec = parseSyntheticName(values.dataset!);
if (!spec) throw new Error('a synthetic-* dataset name');
const nq = Number(values.queries);
spec.nq = nq;
const t0 = performance.now();
const ds = generateSynthetic(spec);
const { base, queries, labels } = ds;
const n = base.n;
console.log(`${values.dataset}: ${n} x ${base.dim}, ${spec.clusters} clusters, ${nq} queries (generated in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);

function cached(name: string, make: () => Neighbors): Neighbors {
  const file = path.join(os.tmpdir(), `crinn-diag-${name}.bin`);
  if (existsSync(file)) {
    const buf = readFileSync(file);
    const [nqq, k] = new Int32Array(buf.buffer, buf.byteOffset, 2);
    const ids = new Int32Array(buf.buffer.slice(buf.byteOffset + 8, buf.byteOffset + 8 + nqq * k * 4));
    const distances = new Float32Array(buf.buffer.slice(buf.byteOffset + 8 + nqq * k * 4, buf.byteOffset + 8 + 2 * nqq * k * 4));
    return { ids, distances, nq: nqq, k };
  }
  const t = performance.now();
  const r = make();
  console.log(`  exact ${name}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const head = new Int32Array([r.nq, r.k]);
  writeFileSync(file, Buffer.concat([Buffer.from(head.buffer), Buffer.from(r.ids.buffer, r.ids.byteOffset, r.ids.byteLength), Buffer.from(r.distances!.buffer, r.distances!.byteOffset, r.distances!.byteLength)]));
  return r;
}

const truth = cached(`${values.dataset}-q${nq}`, () => bruteForceKnn(base, queries, 10, 'l2'));
const sampleN = Number(values.sample);
const sampleRows = Array.from({ length: sampleN }, (_, i) => Math.floor(((i + 0.5) * n) / sampleN));
const sq: VectorSet = { data: new Float32Array(sampleN * base.dim), n: sampleN, dim: base.dim };
sampleRows.forEach((row, i) => sq.data.set(base.data.subarray(row * base.dim, (row + 1) * base.dim), i * base.dim));
const KS = 129;
const sampleTruth = cached(`${values.dataset}-rows${sampleN}`, () => bruteForceKnn(base, sq, KS, 'l2'));

let knnRecall = '';
const params = { threads: Number(values.threads), ...JSON.parse(values.params!) };
// --reuse: the main graph from an earlier run with the same dataset and params (only the entry layer is rebuilt).
const graphFile = path.join(os.tmpdir(), `crinn-diag-graph-${values.dataset}-${Buffer.from(JSON.stringify(params)).toString('hex').slice(0, 120)}.bin`);
let res: Awaited<ReturnType<typeof buildGraph>>;
if (values.reuse && existsSync(graphFile)) {
  const saved = JSON.parse(readFileSync(graphFile, 'utf8')) as { degree: number; neighbors: number[]; entryPoints: number[]; stats: any; params: any };
  const g = { n, degree: saved.degree, neighbors: Uint32Array.from(saved.neighbors) };
  const ep = Uint32Array.from(saved.entryPoints);
  const t = performance.now();
  const entryLayer = buildEntryLayer(base.data, n, base.dim, 'l2', ep, { seed: 1, ...JSON.parse(values.layer!) });
  console.log(`(graph reused from ${graphFile}; entry layer rebuilt in ${((performance.now() - t) / 1000).toFixed(1)} s)`);
  res = { graph: g as any, entryPoints: ep, entryLayer, params: saved.params, stats: saved.stats };
} else {
  res = await buildGraph(base, 'l2', params, {
  quiet: true,
    onKnnGraph: (ids, K) => {
      const at = (k: number): number => {
        let hit = 0;
        sampleRows.forEach((row, i) => {
          const exact = new Set(Array.from(sampleTruth.ids.subarray(i * KS, (i + 1) * KS)).filter((v) => v !== row).slice(0, k));
          for (let r = 0; r < k; r++) if (exact.has(ids[row * K + r])) hit++;
        });
        return hit / (sampleN * k);
      };
      knnRecall = `kNN graph recall (K = ${K}, ${sampleN} rows): @10 ${at(10).toFixed(3)}, @${Math.min(K, 64)} ${at(Math.min(K, 64)).toFixed(3)}, @${K} ${at(Math.min(K, KS - 1)).toFixed(3)}`;
    },
  });
  writeFileSync(graphFile, JSON.stringify({ degree: res.graph.degree, neighbors: Array.from(res.graph.neighbors), entryPoints: Array.from(res.entryPoints), stats: res.stats, params: res.params }));
}
const { graph, entryPoints, entryLayer, stats } = res;
const d = graph.degree;
console.log(`build: ${stats.seconds.toFixed(1)} s on ${stats.threads} threads; degree ${d}, K ${res.params.intermediateDegree}, entry points ${entryPoints.length}, entry layer ${entryLayer.ids.length}`);
console.log(`  phases: ${Object.entries(stats.phases).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
if (stats.nnDescentRounds) console.log(`  NN-descent rounds ${stats.nnDescentRounds.length}: updates ${stats.nnDescentRounds.join(' ')} (stop below ${(res.params.nnDescent.delta * n * res.params.intermediateDegree).toFixed(0)})`);
console.log(`  bridges ${stats.bridges}, unreachable ${stats.unreachable}`);
if (knnRecall) console.log(`  ${knnRecall}`);

// Pruned graph structure.
const nb = graph.neighbors;
const indeg = new Int32Array(n);
let edges = 0, cross = 0;
const clusterOut = new Int32Array(spec.clusters);
const clusterIn = new Int32Array(spec.clusters);
const clusterSize = new Int32Array(spec.clusters);
for (let u = 0; u < n; u++) clusterSize[labels[u]]++;
for (let u = 0; u < n; u++) {
  for (let j = 0; j < d; j++) {
    const v = nb[u * d + j];
    if (v === NO_NEIGHBOR) continue;
    edges++;
    indeg[v]++;
    if (labels[u] !== labels[v]) {
      cross++;
      clusterOut[labels[u]]++;
      clusterIn[labels[v]]++;
    }
  }
}
const sortedIn = Array.from(indeg).sort((a, b) => a - b);
const pct = (p: number) => sortedIn[Math.min(n - 1, Math.floor(p * n))];
console.log(`graph: ${edges} edges (${(edges / n).toFixed(1)} per row); in-degree min ${sortedIn[0]}, p1 ${pct(0.01)}, p10 ${pct(0.1)}, median ${pct(0.5)}, p99 ${pct(0.99)}, max ${sortedIn[n - 1]}; zero in-degree ${sortedIn.filter((x) => x === 0).length}`);
console.log(`  edges crossing clusters ${(cross / edges * 100).toFixed(2)}%; clusters with no edge out ${Array.from(clusterOut).filter((x) => x === 0).length}, no edge in ${Array.from(clusterIn).filter((x) => x === 0).length} of ${spec.clusters}`);
// kNN truth share crossing clusters, for comparison.
{
  let c = 0, t = 0;
  sampleRows.forEach((row, i) => {
    for (let r = 1; r < 65 && r < KS; r++) { t++; if (labels[sampleTruth.ids[i * KS + r]] !== labels[row]) c++; }
  });
  console.log(`  exact 64-NN of the sample crossing clusters ${(c / t * 100).toFixed(2)}%`);
}
// Reachability from the entry points and the largest SCC (iterative Tarjan).
{
  const reached = new Uint8Array(n);
  const queue = new Int32Array(n);
  let tail = 0;
  for (const e of entryPoints) if (!reached[e]) { reached[e] = 1; queue[tail++] = e; }
  for (let h = 0; h < tail; h++) {
    const x = queue[h];
    for (let j = 0; j < d; j++) { const y = nb[x * d + j]; if (y !== NO_NEIGHBOR && !reached[y]) { reached[y] = 1; queue[tail++] = y; } }
  }
  const index = new Int32Array(n).fill(-1), low = new Int32Array(n), onStack = new Uint8Array(n);
  const stack = new Int32Array(n), callU = new Int32Array(n), callJ = new Int32Array(n);
  let sp = 0, idx = 0, comps = 0, largest = 0;
  for (let s = 0; s < n; s++) {
    if (index[s] >= 0) continue;
    let cp = 0;
    callU[0] = s; callJ[0] = 0; index[s] = low[s] = idx++; stack[sp++] = s; onStack[s] = 1;
    while (cp >= 0) {
      const u = callU[cp];
      if (callJ[cp] < d) {
        const v = nb[u * d + callJ[cp]++];
        if (v === NO_NEIGHBOR) continue;
        if (index[v] < 0) { cp++; callU[cp] = v; callJ[cp] = 0; index[v] = low[v] = idx++; stack[sp++] = v; onStack[v] = 1; }
        else if (onStack[v]) low[u] = Math.min(low[u], index[v]);
      } else {
        if (low[u] === index[u]) {
          let size = 0, w;
          do { w = stack[--sp]; onStack[w] = 0; size++; } while (w !== u);
          comps++;
          largest = Math.max(largest, size);
        }
        cp--;
        if (cp >= 0) low[callU[cp]] = Math.min(low[callU[cp]], low[u]);
      }
    }
  }
  console.log(`  reachable from the entry points ${tail} of ${n}; strongly connected components ${comps}, largest ${largest} (${(largest / n * 100).toFixed(2)}%)`);
}

// Search.
const index = { metric: 'l2' as const, dim: base.dim, n, storage: 'f32' as const, vectors: base.data, graph, entryPoints, entryLayer };
{
  // The entry-layer phase alone: a main graph without edges returns the entry search's list.
  const flat = { ...index, graph: { degree: 1, neighbors: new Uint32Array(n).fill(NO_NEIGHBOR) } };
  const r = cpuBeamSearch(flat, queries, 10, { ...JSON.parse(values.search!), itopk: 32 });
  let same = 0;
  for (let q = 0; q < nq; q++) if (labels[r.ids[q * 10]] === labels[truth.ids[q * 10]]) same++;
  const evals = r.evaluations.reduce((a, b) => a + b, 0) / nq;
  console.log(`entry layer search: best node in the true NN's cluster for ${same} of ${nq} queries (${(same / nq * 100).toFixed(1)}%), ${evals.toFixed(0)} evals/query`);
}
for (const e of values.efforts!.split(',').map(Number)) {
  const t = performance.now();
  const r = cpuBeamSearch(index, queries, 10, { ...JSON.parse(values.search!), itopk: e });
  const rec = recallAtK(r, base, queries, 'l2', truth, 10);
  const evals = r.evaluations.reduce((a, b) => a + b, 0) / nq;
  // Misses: queries whose best result lies in another cluster than the true nearest neighbour's.
  let wrongCluster = 0, zero = 0, perfect = 0;
  for (let q = 0; q < nq; q++) {
    const got = new Set(Array.from(r.ids.subarray(q * 10, q * 10 + 10)));
    let hit = 0;
    for (let j = 0; j < 10; j++) if (got.has(truth.ids[q * 10 + j])) hit++;
    if (hit === 0) zero++;
    if (hit === 10) perfect++;
    if (labels[r.ids[q * 10]] !== labels[truth.ids[q * 10]]) wrongCluster++;
  }
  if (e === Number(values.efforts!.split(',').at(-1))) {
    for (let q = 0; q < nq; q++) {
      const got = new Set(Array.from(r.ids.subarray(q * 10, q * 10 + 10)));
      if (Array.from(truth.ids.subarray(q * 10, q * 10 + 10)).some((t) => got.has(t))) continue;
      const c = labels[truth.ids[q * 10]];
      console.log(`  miss q${q}: true NN cluster ${c} (size ${clusterSize[c]}, edges in from other clusters ${clusterIn[c]}), found cluster ${labels[r.ids[q * 10]]}, d found/true ${(r.distances![q * 10] / truth.distances![q * 10]).toFixed(2)}, truth clusters ${Array.from(truth.ids.subarray(q * 10, q * 10 + 10)).map((t) => labels[t]).join(' ')}`);
    }
  }
  console.log(`effort ${e}: recall@10 ${rec.recall.toFixed(4)}, evals/query ${evals.toFixed(0)}; queries with 0/10 ${zero}, 10/10 ${perfect}, top-1 in another cluster than the true NN's ${wrongCluster} (${((performance.now() - t) / 1000).toFixed(1)} s)`);
}
