/** The bench result file (JSON): zod schema, TS types, and a validating parser with one-line errors. */
import { z } from 'zod';
import { UserError } from '../errors.ts';

const finite = z.number().refine(Number.isFinite, 'expected a finite number');
const nonNeg = finite.refine((x) => x >= 0, 'expected a number >= 0');
const count = z.number().int().nonnegative();

export const pointSchema = z.object({
  effort: finite,
  recall: finite.refine((x) => x >= 0 && x <= 1, 'expected a recall in [0, 1]'),
  qps: nonNeg,
  /** Per-repetition wall-clock seconds. */
  seconds: z.array(nonNeg),
  /** Mean distance evaluations per query, for systems that count them. */
  evaluations: nonNeg.optional(),
  /** Mean bytes of base rows read per query (codes and rerank rows), for systems that count them. */
  bytesRead: nonNeg.optional(),
  /** Per-call latency percentiles (ms), when the queries went in batches (`batch`). */
  latencyMs: z.object({ p50: nonNeg, p95: nonNeg, p99: nonNeg }).optional(),
});

export const summarySchema = z.object({
  auc: nonNeg,
  qpsAt90: nonNeg.nullable(),
  qpsAt95: nonNeg.nullable(),
  qpsAt99: nonNeg.nullable(),
  /** Distance evaluations per query at recall 0.95 (interpolated), when counted. */
  evaluationsAt95: nonNeg.nullable().optional(),
  /** Bytes of base rows read per query at recall 0.95 (interpolated), when counted. */
  bytesReadAt95: nonNeg.nullable().optional(),
});

export const systemSchema = z.object({
  name: z.string().min(1),
  kind: z.enum(['gpu', 'cpu-peer', 'oracle']),
  params: z.record(z.string(), z.unknown()),
  build: z.object({ seconds: nonNeg, params: z.record(z.string(), z.unknown()) }),
  points: z.array(pointSchema),
  summary: summarySchema,
  reachedWindow: z.boolean(),
  /** Points inside the window; fewer than 3 is flagged (the AUC then rests on too few points). */
  inWindow: count.optional(),
  error: z.string().optional(),
});

export const adapterSchema = z.object({
  name: z.string(),
  vendor: z.string(),
  architecture: z.string(),
  backend: z.string(),
  type: z.string(),
  description: z.string(),
  limits: z.record(z.string(), finite),
  features: z.array(z.string()),
});

export const benchResultSchema = z.object({
  schemaVersion: z.literal(1),
  createdAt: z.string().min(1),
  tool: z.object({ name: z.string(), version: z.string() }),
  machine: z.object({ cpus: count, platform: z.string(), node: z.string() }),
  dataset: z.object({
    name: z.string().min(1),
    fingerprint: z.string(),
    n: count,
    dim: count,
    nq: count,
    metric: z.enum(['l2', 'ip', 'angular']),
    k: count,
  }),
  adapter: adapterSchema.nullable(),
  systems: z.array(systemSchema),
  seeds: z.record(z.string(), z.union([finite, z.string()])),
  versions: z.record(z.string(), z.string()),
  window: z
    .object({ lo: finite, hi: finite })
    .refine((w) => w.lo < w.hi, 'expected lo < hi'),
  k: z.number().int().positive(),
  /** Queries per search call (bench --batch); absent: all the queries in one call. */
  batch: z.number().int().positive().optional(),
});

export type BenchPoint = z.infer<typeof pointSchema>;
export type BenchSummary = z.infer<typeof summarySchema>;
export type BenchSystem = z.infer<typeof systemSchema>;
export type AdapterInfo = z.infer<typeof adapterSchema>;
export type BenchResult = z.infer<typeof benchResultSchema>;

/** `systems.2.points.0.recall` style path for messages. */
function fieldPath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(top level)' : path.map(String).join('.');
}

/** Validate parsed JSON; throws UserError naming the file and the first bad field. */
export function parseBenchResult(value: unknown, file: string): BenchResult {
  const r = benchResultSchema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new UserError(`${file}: bench result field ${fieldPath(issue.path)}: ${issue.message}`);
}

/** Parse JSON text then validate; a syntax error is reported against the file too. */
export function parseBenchResultText(text: string, file: string): BenchResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UserError(`${file}: not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  return parseBenchResult(value, file);
}
