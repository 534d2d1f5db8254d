/**
 * Seeded synthetic datasets: a Gaussian mixture shaped like real embeddings rather than uniform
 * noise. Clusters have unequal weights, varied scales, and a low-rank covariance (8..32 latent
 * directions) plus small isotropic noise, so the data has a low intrinsic dimension the way
 * SIFT or GloVe do. Queries are fresh draws from the same mixture, never copies of base rows.
 * The same spec always gives the same bytes (own PRNG, no Math.random).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { UserError } from '../errors.ts';
import { parseMetric, METRICS } from './types.ts';
import type { Metric, VectorSet } from './types.ts';
import { MAX_DIM } from './vecs.ts';

export interface SyntheticSpec {
  n: number;
  nq: number;
  dim: number;
  clusters: number;
  seed: number;
  metric: Metric;
}

export interface SyntheticData {
  base: VectorSet;
  queries: VectorSet;
  /** Cluster centres and each base row's cluster, for tests and diagnostics. */
  centres: VectorSet;
  labels: Int32Array;
}

const SPECS_FILE = fileURLToPath(new URL('../../datasets/synthetic.json', import.meta.url));
const MAX_ELEMENTS = 2 ** 31;
// Latent directions per cluster. With the scales below, synthetic-20k measures relative contrast
// ~1.75 and local intrinsic dimension ~16 at k=100: between siftsmall (1.94, 18) and glove-50-10k (1.74, 14).
const MIN_RANK = 8;
const MAX_RANK = 32;

const specSchema = z.object({
  n: z.number().int().positive(),
  nq: z.number().int().positive(),
  dim: z.number().int().positive().max(MAX_DIM),
  clusters: z.number().int().positive(),
  seed: z.number().int().nonnegative().max(0xffffffff),
  metric: z.enum(METRICS as [Metric, ...Metric[]]),
});
const fileSchema = z.object({
  defaults: specSchema.pick({ dim: true, seed: true, metric: true }),
  specs: z.record(z.string().regex(/^synthetic-[a-z0-9-]+$/), specSchema),
});

let specsCache: z.infer<typeof fileSchema> | undefined;
function specsFile(): z.infer<typeof fileSchema> {
  if (!specsCache) {
    const parsed = fileSchema.safeParse(JSON.parse(readFileSync(SPECS_FILE, 'utf8')));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new UserError(`${SPECS_FILE}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
    specsCache = parsed.data;
  }
  return specsCache;
}

/** The named specs in datasets/synthetic.json (synthetic-20k, synthetic-100k, ...). */
export function namedSyntheticSpecs(): Record<string, SyntheticSpec> {
  return { ...specsFile().specs };
}

/**
 * Spec for a synthetic dataset name: a named spec, or
 * `synthetic-N[k|m][-dD][-qQ][-cC][-sSEED][-METRIC]` (e.g. synthetic-5000-d37, synthetic-50k-q500-angular).
 * Returns undefined for names that do not start with `synthetic-`.
 */
export function parseSyntheticName(name: string): SyntheticSpec | undefined {
  if (!name.startsWith('synthetic-')) return undefined;
  const named = specsFile().specs[name];
  if (named) return { ...named };
  const usage = `expected synthetic-N[k|m][-dD][-qQ][-cC][-sSEED][-l2|-ip|-angular], e.g. synthetic-5000-d37`;
  const parts = name.slice('synthetic-'.length).split('-');
  const size = /^(\d+)([km]?)$/.exec(parts[0] ?? '');
  if (!size) throw new UserError(`dataset '${name}': bad size '${parts[0]}'; ${usage}`);
  const n = Number(size[1]) * (size[2] === 'k' ? 1000 : size[2] === 'm' ? 1_000_000 : 1);
  const { defaults } = specsFile();
  const spec: SyntheticSpec = {
    n,
    nq: Math.min(1000, Math.max(10, Math.round(n / 100))),
    dim: defaults.dim,
    clusters: Math.max(1, Math.round(Math.sqrt(n))),
    seed: defaults.seed,
    metric: defaults.metric,
  };
  const seen = new Set<string>();
  for (const part of parts.slice(1)) {
    const m = /^([dqcs])(\d+)$/.exec(part);
    const key = m ? m[1] : 'metric';
    if (seen.has(key)) throw new UserError(`dataset '${name}': '${part}' repeats an option; ${usage}`);
    seen.add(key);
    if (!m) {
      try {
        spec.metric = parseMetric(part);
      } catch {
        throw new UserError(`dataset '${name}': unknown part '${part}'; ${usage}`);
      }
      continue;
    }
    const v = Number(m[2]);
    if (m[1] === 'd') spec.dim = v;
    else if (m[1] === 'q') spec.nq = v;
    else if (m[1] === 'c') spec.clusters = v;
    else spec.seed = v;
  }
  validateSyntheticSpec(spec, `dataset '${name}'`);
  if (spec.clusters > spec.n) throw new UserError(`dataset '${name}': clusters: ${spec.clusters} clusters for ${spec.n} rows; expected at most n`);
  return spec;
}

export function validateSyntheticSpec(spec: SyntheticSpec, what = 'synthetic spec'): void {
  const r = specSchema.safeParse(spec);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new UserError(`${what}: ${issue.path.join('.')}: ${issue.message}`);
  }
  if ((spec.n + spec.nq) * spec.dim > MAX_ELEMENTS) {
    throw new UserError(`${what}: ${spec.n + spec.nq} x ${spec.dim} values exceed the ${MAX_ELEMENTS} a single array holds`);
  }
}

/** xoshiro128** seeded through splitmix32: fast, 2^128 period, identical on every platform. */
export function makeRng(seed: number): { next: () => number; normal: () => number } {
  let x = seed >>> 0;
  const split = (): number => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split(), b = split(), c = split(), d = split();
  const next = (): number => {
    const r = Math.imul(((Math.imul(b, 5) << 7) | (Math.imul(b, 5) >>> 25)) >>> 0, 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = (d << 11) | (d >>> 21);
    return r / 4294967296;
  };
  let spare: number | undefined;
  // Box-Muller; 1 - u keeps log() away from 0.
  const normal = (): number => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const u = 1 - next();
    const v = next();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
  return { next, normal };
}

interface Cluster {
  centre: Float64Array;
  /** dim x rank, row-major, already scaled. */
  basis: Float64Array;
  rank: number;
  noise: number;
}

function buildModel(spec: SyntheticSpec): { clusters: Cluster[]; cumulative: Float64Array } {
  const rng = makeRng(spec.seed);
  const { dim } = spec;
  const clusters: Cluster[] = [];
  const cumulative = new Float64Array(spec.clusters);
  let total = 0;
  for (let c = 0; c < spec.clusters; c++) {
    total += Math.exp(0.5 * rng.normal()); // log-normal weights: some clusters several times larger
    cumulative[c] = total;
    const centre = new Float64Array(dim);
    for (let t = 0; t < dim; t++) centre[t] = rng.normal();
    const scale = 0.6 * 3 ** rng.next(); // per-coordinate std in [0.6, 1.8): neighbouring clusters overlap
    const rank = Math.min(dim, MIN_RANK + Math.floor(rng.next() * (MAX_RANK - MIN_RANK + 1)));
    const basis = new Float64Array(dim * rank);
    const k = scale / Math.sqrt(rank);
    for (let i = 0; i < basis.length; i++) basis[i] = rng.normal() * k;
    clusters.push({ centre, basis, rank, noise: 0.2 * scale });
  }
  for (let c = 0; c < spec.clusters; c++) cumulative[c] /= total;
  return { clusters, cumulative };
}

function sample(model: ReturnType<typeof buildModel>, count: number, dim: number, seed: number, labels?: Int32Array): VectorSet {
  const rng = makeRng(seed);
  const data = new Float32Array(count * dim);
  const z = new Float64Array(MAX_RANK);
  const { clusters, cumulative } = model;
  for (let i = 0; i < count; i++) {
    const u = rng.next();
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    if (labels) labels[i] = lo;
    const cl = clusters[lo];
    for (let j = 0; j < cl.rank; j++) z[j] = rng.normal();
    const o = i * dim;
    for (let t = 0; t < dim; t++) {
      let v = cl.centre[t] + cl.noise * rng.normal();
      const row = t * cl.rank;
      for (let j = 0; j < cl.rank; j++) v += cl.basis[row + j] * z[j];
      data[o + t] = v;
    }
  }
  return { data, n: count, dim };
}

export function generateSynthetic(spec: SyntheticSpec): SyntheticData {
  validateSyntheticSpec(spec);
  const model = buildModel(spec);
  const labels = new Int32Array(spec.n);
  // Separate streams for base and queries: changing nq never changes the base rows.
  const base = sample(model, spec.n, spec.dim, (spec.seed ^ 0x5bd1e995) >>> 0, labels);
  const queries = sample(model, spec.nq, spec.dim, (spec.seed ^ 0x27d4eb2f) >>> 0);
  const centres = new Float32Array(spec.clusters * spec.dim);
  model.clusters.forEach((c, i) => centres.set(c.centre, i * spec.dim));
  return { base, queries, centres: { data: centres, n: spec.clusters, dim: spec.dim }, labels };
}
