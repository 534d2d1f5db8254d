/**
 * The README's library example, as a user writes it: everything comes from the package's public
 * entry. Builds an index over a seeded synthetic set, saves and reloads it, searches it on the
 * GPU, and checks the result against exact (brute-force) neighbours.
 * Run: node library.ts in a project that installed crinn-webgpu (Node >= 22.18); in this
 * repository, npm run example (the `crinn-source` condition maps the package to src/).
 */
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AnnEngine, bruteForceKnn, buildIndex, loadDataset, loadIndex, openGpu, recallAtK, saveIndex } from 'crinn-webgpu';

const ctx = await openGpu(); // or openGpu({ adapter: 'nvidia' }); `npx crinn adapters` lists them
const { base, queries, metric } = await loadDataset('synthetic-5k-d32'); // seeded, nothing to download
const { index } = await buildIndex(base, metric, { graphDegree: 32 }, { ctx });

const file = path.join(os.tmpdir(), `crinn-example-${process.pid}.idx`);
await saveIndex(file, index);
const engine = new AnnEngine(ctx, await loadIndex(file));
const result = await engine.search(queries, 10, { itopk: 64 }); // result.ids[q * 10 + j], result.distances
const { recall } = recallAtK(result, base, queries, metric, bruteForceKnn(base, queries, 10, metric));
console.log(`${queries.n} queries on ${ctx.adapter.name}: recall@10 ${recall.toFixed(3)}`);

engine.destroy();
ctx.destroy();
await rm(file);
