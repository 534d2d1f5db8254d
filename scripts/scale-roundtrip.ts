// Scale check (not a test): build -> save -> load -> search of one dataset through the library's
// own calls, with each step's time, the file's size and the loaded index checked field by field
// against the built one, and recall against the exact ground truth (GPU, cached like the bench's).
// Usage: node scripts/scale-roundtrip.ts --dataset synthetic-1m-d768-angular --storage int8
//        [--queries 1000] [--out /tmp/x.crinn] [--efforts 8,16,32] [--keep]
import { statSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadDataset } from '../src/data/resolve.ts';
import { computeGroundTruth } from '../src/data/groundtruth.ts';
import { openGpu } from '../src/gpu/device.ts';
import { buildIndex } from '../src/search/engine.ts';
import { loadIndex, saveIndex } from '../src/graph/index-file.ts';
import { GpuSearcher } from '../src/search/gpu-search.ts';
import { effortParams } from '../src/search/params.ts';
import { recallAtK } from '../src/bench/recall.ts';
import type { VectorStorage } from '../src/data/codecs/registry.ts';

const { values } = parseArgs({
  options: {
    dataset: { type: 'string', default: 'synthetic-100k' },
    storage: { type: 'string', default: 'f16' },
    queries: { type: 'string', default: '1000' },
    out: { type: 'string' },
    efforts: { type: 'string', default: '8,16,32' },
    keep: { type: 'boolean', default: false },
  },
});
const say = (line: string) => process.stderr.write(`${line}\n`);
const secs = (t0: number) => ((performance.now() - t0) / 1000).toFixed(1);
const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
const out = values.out ?? path.join(tmpdir(), `scale-roundtrip-${process.pid}.crinn`);

const ds = await loadDataset(values.dataset!, { queries: Number(values.queries) });
say(`${ds.name}: ${ds.base.n} x ${ds.base.dim} ${ds.metric}, ${ds.queries.n} queries`);
const ctx = await openGpu({});
let t = performance.now();
const truth = await computeGroundTruth({ base: ds.base, queries: ds.queries, k: 10, metric: ds.metric, open: async () => ctx });
say(`ground truth: ${truth.cached ? 'from cache' : `${secs(t)} s on the GPU`}`);

t = performance.now();
const { index: built, stats } = await buildIndex(ds.base, ds.metric, {}, { quiet: true, storage: values.storage as VectorStorage });
const phases = Object.entries(stats.phases).filter(([k]) => !k.includes('.')).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ');
say(`build (${values.storage}, degree ${built.graph.degree}): ${secs(t)} s (${phases})`);

t = performance.now();
await saveIndex(out, built);
say(`save: ${secs(t)} s, ${mib(statSync(out).size)} at ${out}`);

t = performance.now();
const loaded = await loadIndex(out);
say(`load (checksums verified): ${secs(t)} s`);
const same = (a: ArrayLike<number>, b: ArrayLike<number>) => a.length === b.length && Buffer.compare(Buffer.from((a as Uint8Array).buffer, (a as Uint8Array).byteOffset, (a as Uint8Array).byteLength), Buffer.from((b as Uint8Array).buffer, (b as Uint8Array).byteOffset, (b as Uint8Array).byteLength)) === 0;
const checks: Record<string, boolean> = {
  header: loaded.n === built.n && loaded.dim === built.dim && loaded.metric === built.metric && loaded.storage === built.storage,
  vectors: same(loaded.vectors, built.vectors),
  graph: loaded.graph.degree === built.graph.degree && same(loaded.graph.neighbors, built.graph.neighbors),
  entryLayer: same(loaded.entryLayer.ids, built.entryLayer.ids) && same(loaded.entryLayer.neighbors, built.entryLayer.neighbors),
  codec: !built.codecData || (same(loaded.codecData!.codes, built.codecData.codes) && same(loaded.codecData!.params, built.codecData.params)),
};
say(`loaded = built: ${Object.entries(checks).map(([k, v]) => `${k} ${v ? 'yes' : 'NO'}`).join(', ')}`);
if (!Object.values(checks).every(Boolean)) process.exitCode = 1;

t = performance.now();
const searcher = new GpuSearcher(ctx, loaded);
await ctx.idle('upload');
say(`upload: ${secs(t)} s; device holds ${mib(ctx.memory.liveBytes)}; rows ${searcher.layouts.base.chunks} binding(s), rerank rows ${searcher.layouts.exact?.chunks ?? 0} in ${searcher.refineWindows.length} window(s), graph ${searcher.layouts.graph.chunks}`);
for (const effort of values.efforts!.split(',').map(Number)) {
  await searcher.search(ds.queries, 10, effortParams(effort, 10));
  t = performance.now();
  const r = await searcher.search(ds.queries, 10, effortParams(effort, 10));
  const s = (performance.now() - t) / 1000;
  say(`search effort ${effort}: recall@10 ${recallAtK(r, ds.base, ds.queries, ds.metric, truth.neighbors, 10).recall.toFixed(4)}, ${Math.round(ds.queries.n / s)} QPS (one call of ${ds.queries.n} after a warm-up)`);
}
searcher.destroy();
ctx.destroy();
if (!values.keep && values.out === undefined) rmSync(out, { force: true });
