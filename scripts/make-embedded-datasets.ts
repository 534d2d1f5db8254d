/**
 * Writes the small real datasets that ship in `datasets/embedded/` (the tests and `npm start` read
 * them, so a clean clone needs nothing beside it), their top-100 ground truth computed here by
 * exact CPU brute force, and `datasets/embedded.json` with the source and SHA-256 of every file.
 *
 *   node scripts/make-embedded-datasets.ts --sift DIR_WITH_siftsmall_*.fvecs --glove glove.6B.50d.10k.txt
 *
 * They are slices, not copies: SIFT keeps the first 5,000 of 10,000 base rows (stored as uint8
 * .bvecs: SIFT components are integers 0..255) and its 100 queries; GloVe keeps the 5,000 most
 * frequent words as the base and 200 of the least frequent of its 10k as queries.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { bruteForceKnn, normalizeRows } from '../src/data/metric.ts';
import { readFvecs, writeFvecs, writeIvecs } from '../src/data/vecs.ts';
import { readGloveText } from '../src/data/glove.ts';
import type { Metric, VectorSet } from '../src/data/types.ts';

const GT_K = 100;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'datasets', 'embedded');

const { values } = parseArgs({ options: { sift: { type: 'string' }, glove: { type: 'string' } } });
if (!values.sift || !values.glove) {
  process.stderr.write('usage: node scripts/make-embedded-datasets.ts --sift DIR --glove FILE\n');
  process.exit(1);
}

function slice(set: VectorSet, from: number, to: number): VectorSet {
  return { data: set.data.slice(from * set.dim, to * set.dim), n: to - from, dim: set.dim };
}

async function writeBvecs(file: string, set: VectorSet): Promise<void> {
  const rec = 4 + set.dim;
  const buf = Buffer.alloc(set.n * rec);
  for (let i = 0; i < set.n; i++) {
    buf.writeInt32LE(set.dim, i * rec);
    for (let t = 0; t < set.dim; t++) {
      const v = set.data[i * set.dim + t];
      if (!Number.isInteger(v) || v < 0 || v > 255) throw new Error(`row ${i} dim ${t}: ${v} is not a uint8`);
      buf[i * rec + 4 + t] = v;
    }
  }
  await writeFile(file, buf);
}

async function groundTruth(file: string, base: VectorSet, queries: VectorSet, metric: Metric): Promise<void> {
  const b = { ...base, data: base.data.slice() };
  const q = { ...queries, data: queries.data.slice() };
  if (metric === 'angular') {
    normalizeRows(b, 'base');
    normalizeRows(q, 'queries');
  }
  const gt = bruteForceKnn(b, q, GT_K, metric);
  await writeIvecs(file, { data: gt.ids, n: gt.nq, dim: GT_K });
}

interface Entry { name: string; metric: Metric; n: number; nq: number; dim: number; source: string; files: Record<string, string> }
const entries: Entry[] = [];

/** Writes one dataset's base, queries (as .bvecs or .fvecs) and ground truth, and records their sha256. */
async function emit(name: string, metric: Metric, ext: 'bvecs' | 'fvecs', base: VectorSet, queries: VectorSet, source: string): Promise<void> {
  await mkdir(path.join(outDir, name), { recursive: true });
  const write = ext === 'bvecs' ? writeBvecs : writeFvecs;
  const files = [`${name}/base.${ext}`, `${name}/query.${ext}`, `${name}/groundtruth.ivecs`];
  await write(path.join(outDir, files[0]), base);
  await write(path.join(outDir, files[1]), queries);
  await groundTruth(path.join(outDir, files[2]), base, queries, metric);
  const sums: Record<string, string> = {};
  for (const f of files) sums[f] = createHash('sha256').update(await readFile(path.join(outDir, f))).digest('hex');
  entries.push({ name, metric, n: base.n, nq: queries.n, dim: base.dim, source, files: sums });
}

await emit('siftsmall-5k', 'l2', 'bvecs',
  slice(await readFvecs(path.join(values.sift, 'siftsmall_base.fvecs')), 0, 5000),
  await readFvecs(path.join(values.sift, 'siftsmall_query.fvecs')),
  'TEXMEX ANN_SIFT10K (Jegou et al., INRIA, http://corpus-texmex.irisa.fr/): base rows 0..4999 of siftsmall_base.fvecs (sha256 1e90414a...f60fe0), all 100 queries of siftsmall_query.fvecs (sha256 095af38b...dc1a10); top-100 ground truth by exact CPU brute force over the 5,000 rows (ties by smaller id)');
const glove = (await readGloveText(values.glove)).vectors;
await emit('glove-50-5k', 'angular', 'fvecs', slice(glove, 0, 5000), slice(glove, 9800, 10000),
  'GloVe 6B 50-d word vectors (Pennington et al., Stanford NLP, ODC PDDL), the 10,000 most frequent words (glove.6B.50d.10k.txt, sha256 f6ff508f...26ac3a): words 0..4999 as the base, words 9800..9999 as queries, raw (unnormalised) f32; top-100 angular ground truth by exact CPU brute force on the L2-normalised rows');

await writeFile(path.join(root, 'datasets', 'embedded.json'), `${JSON.stringify({
  $comment: 'Small real datasets shipped in datasets/embedded/ so that tests and npm start need no download. Made by scripts/make-embedded-datasets.ts; ground truth is top-100 ids by exact brute force. test/data/embedded.test.ts checks every sha256 and re-derives the ground truth.',
  groundTruthK: GT_K,
  datasets: entries,
}, null, 2)}\n`);
console.log(entries.map((e) => `${e.name}: ${e.n} x ${e.dim}, ${e.nq} queries`).join('\n'));
