/**
 * The evaluation farm's wire format (docs/ARCHITECTURE.md, "The evaluation farm"): what a parent
 * (`crinn optimize --farm`) puts on an adapter's BullMQ queue and what a worker (`crinn worker`)
 * returns. Both sides validate with these schemas; a job is refused when its contract or project
 * version differs from the worker's, or when it is larger than MAX_JOB_BYTES.
 *
 * A verdict is bound to its job: the parent derives a secret per job (an HMAC of the job id under
 * the run's key, RUN/farm.key), sends it with the job, and accepts a result only when it names the
 * job, the variant and the adapter, and carries an HMAC of them and the verdict under that secret.
 * So a result written into another job, replayed from an earlier one, or made up by a client that
 * never received the job is rejected. Anyone holding the Redis password can read jobs (and so
 * their secrets): the password, not this check, keeps strangers out.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { MODULE_NAMES } from '../bundle/module-manifest.ts';
import { variantSchema, verdictSchema, type Verdict } from '../evolve/contract.ts';
import { VERSION } from '../version.ts';

/** Bumped whenever a job or result field changes meaning; workers refuse jobs of another contract. */
export const FARM_CONTRACT = 1;
/** Largest job payload (JSON bytes): a variant is a few WGSL and TypeScript files. */
export const MAX_JOB_BYTES = 4 * 1024 * 1024;
/** Key prefix of every queue and worker record on the farm's Redis. */
export const FARM_PREFIX = 'crinn';
/** Live workers: one key each, refreshed while the worker runs, gone WORKER_TTL_MS after it stops. */
export const WORKER_KEY_PREFIX = `${FARM_PREFIX}:farm:worker:`;
export const WORKER_TTL_MS = 15_000;

/** One queue per adapter (a worker owns its adapter while it times): a readable slug plus a hash of the full name. */
export function queueName(adapter: string): string {
  const slug = adapter.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 48);
  return `eval-${slug}-${createHash('sha256').update(adapter).digest('hex').slice(0, 8)}`;
}

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 hex digits');

const wireVariant = z.strictObject({
  hash: hex64,
  variant: variantSchema,
  files: z.array(z.strictObject({ path: z.string().min(1).max(256), base64: z.string().max(MAX_JOB_BYTES) })).min(1).max(64),
});
export type WireVariant = z.infer<typeof wireVariant>;

/**
 * The evaluator settings a job may carry: the measurement knobs of `crinn optimize` and nothing
 * that loosens the sandbox (evaluate.ts test hooks such as childEntry or allowNetwork are not here,
 * so a forged job cannot turn them on).
 */
export const farmSettingsSchema = z.strictObject({
  k: z.number().int().positive().max(1024).optional(),
  queriesPerCall: z.number().int().positive().max(100_000).optional(),
  reps: z.number().int().min(3).max(1000).optional(),
  maxRounds: z.number().int().positive().max(1000).optional(),
  precision: z.number().gt(0).lt(1).optional(),
  efforts: z.array(z.number().int().positive().max(4096)).min(1).max(64).optional(),
  maxPoints: z.number().int().positive().max(64).optional(),
  probeQueries: z.number().int().positive().max(100_000).optional(),
  probeEffort: z.number().int().positive().max(4096).optional(),
  recallFloor: z.number().min(0).max(1).optional(),
  /** A filtered run (src/evolve/pool-filter.ts FilterSetting): the target selectivity and the synthetic labels' spec. */
  filter: z.strictObject({
    selectivity: z.number().gt(0).max(1),
    labels: z.strictObject({
      vocabulary: z.number().int().positive().max(1 << 24),
      perVector: z.number().int().positive().max(1024),
      exponent: z.number().min(0).max(16),
      seed: z.number().int(),
    }).partial().optional(),
  }).optional(),
});

/** The version fields alone: read first, so a job from another contract is refused by name, not as malformed. */
export const farmVersionSchema = z.object({ contract: z.number().int(), project: z.string() });

export const farmJobSchema = z.strictObject({
  contract: z.literal(FARM_CONTRACT),
  /** The crinn version that submitted it: evaluators of two versions may measure differently. */
  project: z.string().min(1),
  id: z.string().min(1).max(300),
  secret: hex64,
  /** The full adapter name the job is for (the queue's). */
  adapter: z.string().min(1).max(300),
  module: z.enum(MODULE_NAMES),
  variant: wireVariant,
  context: z.partialRecord(z.enum(MODULE_NAMES), wireVariant),
  dataset: z.strictObject({ name: z.string().min(1).max(4096), fingerprint: hex64.nullable() }),
  seed: z.number().int().nonnegative(),
  bestSoFar: z.number().nullable(),
  settings: farmSettingsSchema,
  deadline: z.number().optional(),
});
export type FarmJob = z.infer<typeof farmJobSchema>;

export const farmResultSchema = z.strictObject({
  contract: z.literal(FARM_CONTRACT),
  jobId: z.string(),
  worker: z.string(),
  adapter: z.string(),
  verdict: verdictSchema,
  mac: hex64,
});
export type FarmResult = z.infer<typeof farmResultSchema>;

/** What a worker publishes about itself under WORKER_KEY_PREFIX + id. */
export const workerInfoSchema = z.object({
  id: z.string(),
  host: z.string(),
  pid: z.number().int(),
  adapter: z.string(),
  queue: z.string(),
  contract: z.number().int(),
  project: z.string(),
  startedAt: z.string(),
  jobs: z.number().int().nonnegative(),
});
export type WorkerInfo = z.infer<typeof workerInfoSchema>;

/** The project version a worker and a parent compare (package.json). */
export const PROJECT_VERSION = VERSION;

/** The job's secret: the parent derives it from the run's key, so a resumed parent knows it again. */
export function jobSecret(runKey: Buffer, jobId: string): string {
  return createHmac('sha256', runKey).update(`crinn-farm-job\n${jobId}`).digest('hex');
}

/**
 * The result's MAC over the job id, variant hash, adapter and the verdict's JSON as the worker
 * wrote it (the parent recomputes it over the JSON it read back, key order preserved).
 */
export function resultMac(secret: string, jobId: string, variantHash: string, adapter: string, verdict: unknown): string {
  return createHmac('sha256', Buffer.from(secret, 'hex')).update(`${jobId}\n${variantHash}\n${adapter}\n${JSON.stringify(verdict)}`).digest('hex');
}

export function macEquals(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** One line naming the fields a payload got wrong: `variant.hash: expected 64 hex digits; settings: unrecognized key "childEntry"`. */
export function issuesText(err: z.ZodError): string {
  return err.issues.slice(0, 4).map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; ');
}

export type { Verdict };
