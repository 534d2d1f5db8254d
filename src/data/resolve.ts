/**
 * One entry point from a dataset name or path to a validated, ready-to-search `Dataset`:
 * base and queries with matching dimensions, finite values, angular rows L2-normalised, and
 * ground truth (when the source has it) checked for shape and id range, with its distances
 * recomputed in the metric's own units from the loaded vectors.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.ts';
import type { Dataset, Metric, Neighbors, VectorSet } from './types.ts';
import { distance, normalizeRows } from './metric.ts';
import { checkLimit, readFloatVecs, readIvecs, vecsKindOf, vecsShape } from './vecs.ts';
import type { IntVectorSet } from './vecs.ts';
import { annHdf5Shape, readAnnHdf5 } from './hdf5.ts';
import { readGloveText } from './glove.ts';
import { generateSynthetic, namedSyntheticSpecs, parseSyntheticName } from './synthetic.ts';
import { annDatasets, findAnnDataset } from './manifest.ts';
import { cachedDatasetPath, defaultCacheDir } from './download.ts';

export interface LoadOptions {
  /** Folder holding local datasets (siftsmall/, glove-50-10k/, NAME.hdf5); else $CRINN_DATA_DIR. */
  dataDir?: string;
  /** Download cache; else $CRINN_CACHE_DIR or ~/.cache/crinn. */
  cacheDir?: string;
  /**
   * A number: how many queries (for a file without separate queries, the size of the held-out
   * tail; otherwise the first N queries). A string: a query file (.fvecs/.bvecs) for a vecs base.
   */
  queries?: number | string;
  /** Ground-truth .ivecs for a vecs base with a query file. */
  groundTruth?: string;
  /** Use only the first `limit` base rows (ground truth that refers to the full base is dropped). */
  limit?: number;
  /** Metric for .fvecs/.bvecs/.txt paths (default l2 for vecs, angular for GloVe text); other sources fix their own. */
  metric?: Metric;
  /** L2-normalise angular datasets (default true); `dataset info` turns it off to show raw norms. */
  normalize?: boolean;
}

export interface KnownDataset {
  name: string;
  kind: 'local' | 'synthetic' | 'ann-benchmarks';
  metric: Metric;
  n: number;
  nq: number;
  dim: number;
  description: string;
}

interface LocalDataset {
  metric: Metric;
  n: number;
  nq: number;
  dim: number;
  description: string;
  /** Paths relative to a data folder; the first one decides which folder holds the dataset. */
  base: string;
  query?: string;
  groundTruth?: string;
  /** Rows held out from the end of `base` as queries. */
  holdout?: number;
  /** Shipped in the package's datasets/embedded/ (see datasets/embedded.json); needs no data folder. */
  embedded?: boolean;
}

const LOCAL: Record<string, LocalDataset> = {
  'siftsmall-5k': {
    metric: 'l2',
    n: 5000,
    nq: 100,
    dim: 128,
    description: 'embedded: the first 5,000 ANN_SIFT10K base rows and its 100 queries, top-100 ground truth',
    base: 'siftsmall-5k/base.bvecs',
    query: 'siftsmall-5k/query.bvecs',
    groundTruth: 'siftsmall-5k/groundtruth.ivecs',
    embedded: true,
  },
  'glove-50-5k': {
    metric: 'angular',
    n: 5000,
    nq: 200,
    dim: 50,
    description: 'embedded: GloVe 6B 50-d, the 5,000 most frequent words; 200 rarer words as queries, top-100 ground truth',
    base: 'glove-50-5k/base.fvecs',
    query: 'glove-50-5k/query.fvecs',
    groundTruth: 'glove-50-5k/groundtruth.ivecs',
    embedded: true,
  },
  siftsmall: {
    metric: 'l2',
    n: 10000,
    nq: 100,
    dim: 128,
    description: 'TEXMEX ANN_SIFT10K SIFT descriptors, with top-100 ground truth',
    base: 'siftsmall/siftsmall_base.fvecs',
    query: 'siftsmall/siftsmall_query.fvecs',
    groundTruth: 'siftsmall/siftsmall_groundtruth.ivecs',
  },
  'glove-50-10k': {
    metric: 'angular',
    n: 9500,
    nq: 500,
    dim: 50,
    description: 'GloVe 6B 50-d, 10k most frequent words; the last 500 words are the queries',
    base: 'glove-50-10k/glove.6B.50d.10k.txt',
    holdout: 500,
  },
};

/** The small real datasets shipped with the package (same depth from src/data and dist/data). */
export const EMBEDDED_DATA_DIR = fileURLToPath(new URL('../../datasets/embedded', import.meta.url));

/** Held-out query count for a file without queries: 5% of the rows, 1..1000. */
export function defaultHoldout(n: number): number {
  return Math.min(1000, Math.max(1, Math.floor(n / 20)));
}

export function listKnownDatasets(): KnownDataset[] {
  const out: KnownDataset[] = Object.entries(LOCAL).map(([name, d]) => ({
    name,
    kind: 'local' as const,
    metric: d.metric,
    n: d.n,
    nq: d.nq,
    dim: d.dim,
    description: d.description,
  }));
  for (const [name, s] of Object.entries(namedSyntheticSpecs())) {
    out.push({ name, kind: 'synthetic', metric: s.metric, n: s.n, nq: s.nq, dim: s.dim, description: `seeded Gaussian mixture, ${s.clusters} clusters` });
  }
  for (const d of annDatasets()) {
    out.push({ name: d.name, kind: 'ann-benchmarks', metric: d.metric, n: d.train, nq: d.test, dim: d.dim, description: d.description });
  }
  return out;
}

/** A data folder the user named must exist: silently looking elsewhere would load other data. */
async function checkDataDirs(opts: LoadOptions): Promise<void> {
  const named: [string, string | undefined][] = [['--data-dir', opts.dataDir], ['CRINN_DATA_DIR', process.env.CRINN_DATA_DIR]];
  for (const [what, dir] of named) {
    if (dir === undefined || dir === '') continue;
    const st = await stat(dir).catch(() => undefined);
    if (!st) throw new UserError(`${what}: folder ${dir} does not exist`);
    if (!st.isDirectory()) throw new UserError(`${what}: ${dir} is not a folder`);
  }
}

function searchDirs(opts: LoadOptions): string[] {
  const dirs = [opts.dataDir, process.env.CRINN_DATA_DIR, opts.cacheDir ?? defaultCacheDir()];
  return [...new Set(dirs.filter((d): d is string => !!d))];
}

async function isFile(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined))?.isFile() ?? false;
}

async function findIn(dirs: string[], rel: string): Promise<string | undefined> {
  for (const d of dirs) if (await isFile(path.join(d, rel))) return d;
  return undefined;
}

function looksLikePath(s: string): boolean {
  return s.includes('/') || s.includes(path.sep) || /\.(hdf5|h5|fvecs|bvecs|ivecs|txt)$/i.test(s);
}

export async function loadDataset(nameOrPath: string, opts: LoadOptions = {}): Promise<Dataset> {
  if (!nameOrPath) throw new UserError('dataset: expected a dataset name or a file path');
  checkLimit(opts.limit);
  if (typeof opts.queries === 'number') checkLimit(opts.queries, 'queries');
  if (typeof opts.queries === 'string' && !nameOrPath.match(/\.(f|b)vecs$/i)) {
    throw new UserError(`queries: a query file applies only to a .fvecs/.bvecs base, not '${nameOrPath}'`);
  }
  if (opts.groundTruth !== undefined && typeof opts.queries !== 'string' && !/_base\.(f|b)vecs$/i.test(nameOrPath)) {
    throw new UserError(`ground truth: a ground-truth file needs a query file (queries) for '${nameOrPath}'`);
  }

  if (looksLikePath(nameOrPath) || (await isFile(nameOrPath))) return loadPath(nameOrPath, opts);

  const local = LOCAL[nameOrPath];
  if (local) return loadLocal(nameOrPath, local, opts);

  const spec = parseSyntheticName(nameOrPath);
  if (spec) {
    if (opts.limit !== undefined) spec.n = Math.min(spec.n, opts.limit);
    if (typeof opts.queries === 'number') spec.nq = opts.queries;
    const { base, queries } = generateSynthetic(spec);
    return finish({ name: nameOrPath, metric: spec.metric, base, queries, source: `synthetic ${JSON.stringify(spec)}` }, opts, nameOrPath, nameOrPath);
  }

  if (findAnnDataset(nameOrPath)) {
    await checkDataDirs(opts);
    const dirs = [...new Set([opts.dataDir, process.env.CRINN_DATA_DIR].filter((d): d is string => !!d))];
    const dir = await findIn(dirs, `${nameOrPath}.hdf5`);
    const file = dir ? path.join(dir, `${nameOrPath}.hdf5`) : cachedDatasetPath(nameOrPath, opts.cacheDir ?? defaultCacheDir());
    if (!(await isFile(file))) {
      throw new UserError(`dataset '${nameOrPath}' is not downloaded (looked for ${file}); run \`crinn dataset download ${nameOrPath}\``);
    }
    return loadHdf5(file, nameOrPath, opts);
  }

  const known = listKnownDatasets().map((d) => d.name).join(', ');
  throw new UserError(`unknown dataset '${nameOrPath}'; known: ${known}, synthetic-N[-dD] (e.g. synthetic-5000-d37), or a .hdf5/.fvecs/.bvecs/.txt path`);
}

async function loadLocal(name: string, d: LocalDataset, opts: LoadOptions): Promise<Dataset> {
  if (!d.embedded) await checkDataDirs(opts);
  const dirs = d.embedded ? [EMBEDDED_DATA_DIR] : searchDirs(opts);
  const dir = await findIn(dirs, d.base);
  if (!dir) {
    throw new UserError(`dataset '${name}': ${d.base} not found in ${dirs.join(', ')}; pass --data-dir or set CRINN_DATA_DIR`);
  }
  const file = path.join(dir, d.base);
  if (d.holdout !== undefined) {
    return holdoutDataset(name, file, d.metric, d.holdout, opts);
  }
  return vecsDataset(name, file, d.metric, path.join(dir, d.query!), d.groundTruth && path.join(dir, d.groundTruth), opts);
}

async function loadPath(file: string, opts: LoadOptions): Promise<Dataset> {
  const st = await stat(file).catch(() => undefined);
  if (!st) throw new UserError(`${file}: file not found`);
  if (!st.isFile()) throw new UserError(`${file}: is not a file`);
  const ext = path.extname(file).toLowerCase();
  const stem = path.basename(file, path.extname(file)).replace(/_base$/, '');
  if (ext === '.hdf5' || ext === '.h5') return loadHdf5(file, stem, opts);
  if (ext === '.txt') return holdoutDataset(stem, file, opts.metric ?? 'angular', undefined, opts);
  if (ext === '.ivecs') throw new UserError(`${file}: an .ivecs file holds ids (ground truth), not vectors; pass the base .fvecs/.bvecs`);
  if (ext === '.fvecs' || ext === '.bvecs') {
    const metric = opts.metric ?? 'l2';
    if (typeof opts.queries === 'string') return vecsDataset(stem, file, metric, opts.queries, opts.groundTruth, opts);
    // TEXMEX layout: X_base.fvecs beside X_query.fvecs and X_groundtruth.ivecs.
    const m = /^(.*)_base\.(f|b)vecs$/i.exec(file);
    if (m) {
      const query = `${m[1]}_query.${m[2]}vecs`;
      const gt = opts.groundTruth ?? `${m[1]}_groundtruth.ivecs`;
      if (await isFile(query)) return vecsDataset(stem, file, metric, query, (await isFile(gt)) || opts.groundTruth ? gt : undefined, opts);
    }
    return holdoutDataset(stem, file, metric, undefined, opts);
  }
  throw new UserError(`${file}: unsupported file type '${ext}'; expected .hdf5, .h5, .fvecs, .bvecs or a GloVe .txt`);
}

async function loadHdf5(file: string, name: string, opts: LoadOptions): Promise<Dataset> {
  const q = typeof opts.queries === 'number' ? opts.queries : undefined;
  // Neighbour ids refer to the full train set; a truncated base makes them wrong, not just shorter.
  const full = opts.limit === undefined || opts.limit >= (await annHdf5Shape(file)).train.n;
  const h = await readAnnHdf5(file, { limit: opts.limit, queries: q });
  const gt = full && h.neighbors ? idsOnly(h.neighbors) : undefined;
  return finish({ name, metric: h.metric, base: h.train, queries: h.test, groundTruth: gt, source: file }, opts, file, file);
}

function idsOnly(rows: IntVectorSet): Neighbors {
  return { ids: rows.data, nq: rows.n, k: rows.dim };
}

async function vecsDataset(
  name: string,
  baseFile: string,
  metric: Metric,
  queryFile: string,
  gtFile: string | undefined,
  opts: LoadOptions,
): Promise<Dataset> {
  if (!vecsKindOf(queryFile)) throw new UserError(`queries: ${queryFile}: expected a .fvecs or .bvecs file`);
  const q = typeof opts.queries === 'number' ? opts.queries : undefined;
  const base = await readFloatVecs(baseFile, { limit: opts.limit });
  const queries = await readFloatVecs(queryFile, { limit: q });
  let groundTruth: Neighbors | undefined;
  if (gtFile) {
    const full = opts.limit === undefined || base.n === (await vecsShape(baseFile)).n;
    const gt = await readIvecs(gtFile, { limit: q });
    if (gt.n !== queries.n) throw new UserError(`${gtFile}: ${gt.n} ground-truth rows, but ${queryFile} has ${queries.n} queries`);
    if (full) groundTruth = idsOnly(gt);
  }
  const sources = [baseFile, queryFile, gtFile].filter(Boolean).join(' + ');
  return finish({ name, metric, base, queries, groundTruth, source: sources }, opts, baseFile, queryFile, gtFile);
}

async function holdoutDataset(name: string, file: string, metric: Metric, fixed: number | undefined, opts: LoadOptions): Promise<Dataset> {
  const all = path.extname(file).toLowerCase() === '.txt' ? (await readGloveText(file)).vectors : await readFloatVecs(file);
  const want = fixed ?? (typeof opts.queries === 'number' ? opts.queries : defaultHoldout(all.n));
  if (all.n < 2 || want >= all.n) {
    throw new UserError(`${file}: ${all.n} rows cannot give ${want} held-out queries and a non-empty base`);
  }
  const split = all.n - want;
  // Normalise before splitting, so a zero vector is reported by its row in the file.
  if (metric === 'angular' && opts.normalize !== false) normalizeRows(all, file);
  let queries = rows(all, split, all.n);
  // For a fixed split (named datasets) a query count takes the first N of the held-out rows.
  if (fixed !== undefined && typeof opts.queries === 'number') queries = rows(queries, 0, Math.min(opts.queries, queries.n));
  const base = rows(all, 0, Math.min(split, opts.limit ?? split));
  return finish({ name, metric, base, queries, source: `${file} (last ${want} rows held out as queries)` }, { ...opts, normalize: false }, file, file);
}

function rows(set: VectorSet, from: number, to: number): VectorSet {
  return { data: set.data.slice(from * set.dim, to * set.dim), n: to - from, dim: set.dim };
}

/** Shared validation and normalisation; `baseWhat`/`queryWhat` name the files in messages. */
function finish(ds: Dataset, opts: LoadOptions, baseWhat: string, queryWhat: string, gtWhat?: string): Dataset {
  if (opts.metric !== undefined && opts.metric !== ds.metric) {
    throw new UserError(`metric: dataset ${ds.name} uses ${ds.metric}; only .fvecs/.bvecs/.txt files take another metric (got ${opts.metric})`);
  }
  if (ds.queries.dim !== ds.base.dim) {
    throw new UserError(`${queryWhat}: queries have dimension ${ds.queries.dim}, but the base (${baseWhat}) has ${ds.base.dim}`);
  }
  if (ds.metric === 'angular' && opts.normalize !== false) {
    normalizeRows(ds.base, baseWhat === queryWhat ? `${baseWhat} (base)` : baseWhat);
    normalizeRows(ds.queries, baseWhat === queryWhat ? `${queryWhat} (queries)` : queryWhat);
  }
  const gt = ds.groundTruth;
  if (gt) {
    const what = gtWhat ?? baseWhat;
    if (gt.nq !== ds.queries.n) throw new UserError(`${what}: ground truth has ${gt.nq} rows, expected one per query (${ds.queries.n})`);
    for (let i = 0; i < gt.ids.length; i++) {
      const id = gt.ids[i];
      if (id < 0 || id >= ds.base.n) {
        throw new UserError(`${what}: ground-truth row ${Math.floor(i / gt.k)} holds id ${id}, outside the base rows 0..${ds.base.n - 1}`);
      }
    }
    gt.distances = groundTruthDistances(ds.base, ds.queries, gt, ds.metric);
  }
  return ds;
}

/** Distances of the ground-truth ids in the metric's own units (squared L2; 1 - cos; -dot). */
export function groundTruthDistances(base: VectorSet, queries: VectorSet, gt: Neighbors, metric: Metric): Float32Array {
  const out = new Float32Array(gt.nq * gt.k);
  for (let q = 0; q < gt.nq; q++) {
    for (let j = 0; j < gt.k; j++) out[q * gt.k + j] = distance(metric, queries.data, q, base.data, gt.ids[q * gt.k + j], base.dim);
  }
  return out;
}
