// Runs inside an empty project that installed the packed tarball (test/package/pack.test.ts):
// plain JavaScript, importing only the public entry, as a user would. Prints one JSON line.
// The oracle (exact kNN) is computed here in plain JS, independently of the library.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as crinn from 'crinn-webgpu';

const out = { exports: Object.keys(crinn).sort() };

// The exports map hides the internals: a deep import must fail.
try {
  await import('crinn-webgpu/dist/search/engine.js');
  out.deepImport = 'allowed';
} catch (err) {
  out.deepImport = err.code;
}

// Seeded clustered data: 16 Gaussian clusters in 24 dimensions.
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = rng(7);
const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
const dim = 24;
const centres = Array.from({ length: 16 }, () => Float32Array.from({ length: dim }, () => 4 * gauss()));
function points(n) {
  const data = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const c = centres[Math.floor(rand() * centres.length)];
    for (let j = 0; j < dim; j++) data[i * dim + j] = c[j] + gauss();
  }
  return { data, n, dim };
}
const base = points(4000);
const queries = points(100);
const k = 10;

// Exact kNN by brute force (squared L2): the oracle.
const truth = [];
for (let q = 0; q < queries.n; q++) {
  const d = new Float64Array(base.n);
  for (let i = 0; i < base.n; i++) {
    let s = 0;
    for (let j = 0; j < dim; j++) {
      const x = queries.data[q * dim + j] - base.data[i * dim + j];
      s += x * x;
    }
    d[i] = s;
  }
  truth.push(new Set(Array.from(d.keys()).sort((a, b) => d[a] - d[b]).slice(0, k)));
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'crinn-consumer-'));
const ctx = await crinn.openGpu();
try {
  out.adapter = ctx.adapter.name;
  // Two worker threads: the build's worker file must load from the installed dist/.
  const { index, stats } = await crinn.buildIndex(base, 'l2', { graphDegree: 16, knn: 'nn-descent', threads: 2 }, { ctx, quiet: true });
  out.buildThreads = stats.threads;
  const file = path.join(dir, 'consumer.idx');
  await crinn.saveIndex(file, index);
  const engine = new crinn.AnnEngine(ctx, await crinn.loadIndex(file));
  const res = await engine.search(queries, k, { itopk: 16 });
  engine.destroy();
  let hits = 0;
  for (let q = 0; q < queries.n; q++) {
    for (let j = 0; j < k; j++) if (truth[q].has(res.ids[q * k + j])) hits++;
  }
  out.recall = hits / (queries.n * k);

  // Bad input surfaces as the exported UserError class.
  try {
    await crinn.buildIndex(base, 'l2', { graphDegree: -1 }, { quiet: true });
    out.badInput = 'accepted';
  } catch (err) {
    out.badInput = err instanceof crinn.UserError ? 'UserError' : String(err);
  }

  // The bench peers are optional dependencies: absent, each is recorded with a reason, no crash.
  const bench = await crinn.runBench({
    dataset: { name: 'consumer', metric: 'l2', base, queries, source: 'consumer.mjs' },
    systems: ['usearch', 'hnswlib'],
    ctxProvider: () => crinn.openGpu(),
    cacheDir: dir,
  });
  out.peers = Object.fromEntries(bench.systems.map((s) => [s.name, s.error ?? 'ran']));
} finally {
  ctx.destroy();
  await rm(dir, { recursive: true, force: true });
}
console.log(JSON.stringify(out));
