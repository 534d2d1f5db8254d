/**
 * The tuned-kernel bundle format (kernels/README.md): the manifest schema, the content hash over
 * the bundle's files, and the one reader that validates both. `crinn export` (src/evolve/export.ts)
 * writes bundles; the library (src/search/bundle.ts) and the browser bench server read them here.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { MODULE_NAMES, curvePoint, moduleManifestSchema, operatingPointFields, rewardInterval } from './module-manifest.ts';
import { oneLine, UserError } from '../errors.ts';
import { assertRegularFileSync } from '../data/vecs.ts';
import { BUNDLE_FORMAT, BUNDLE_VERSION } from './bundle-id.ts';

export { BUNDLE_FORMAT, BUNDLE_VERSION } from './bundle-id.ts';

const lineageEntry = z.object({ hash: z.string(), origin: z.string(), reward: z.number().nullable() });

export const bundleManifestSchema = z.object({
  format: z.literal(BUNDLE_FORMAT),
  version: z.literal(BUNDLE_VERSION),
  name: z.string().min(1),
  createdAt: z.string(),
  run: z.object({ id: z.string(), policy: z.string(), seed: z.number(), stages: z.array(z.enum(MODULE_NAMES)), evaluations: z.number().int() }),
  /** The adapter the rewards were measured on: its name always; description and limits when known. */
  adapter: z.object({
    name: z.string(),
    backend: z.string().optional(),
    vendor: z.string().optional(),
    architecture: z.string().optional(),
    description: z.string().optional(),
    type: z.string().optional(),
    features: z.array(z.string()).optional(),
    limits: z.record(z.string(), z.number()).optional(),
  }),
  dataset: z.object({ name: z.string(), fingerprint: z.string().nullable() }),
  /**
   * Reward (AUC / baseline AUC, measured interleaved) and curves of the last stage's best variant:
   * its module's own gain on the pipeline the earlier stages tuned (their best ran on both sides).
   */
  reward: z.number().nullable(),
  /** The reward's 95% interval from the evaluator's paired rounds (absent: exported before intervals). */
  rewardInterval: rewardInterval.nullable().optional(),
  /** Product of every exported module's reward: the whole pipeline's gain over the baselines. */
  overallReward: z.number().nullable().optional(),
  auc: z.number().nullable(),
  baselineAuc: z.number().nullable(),
  ...operatingPointFields,
  curve: z.array(curvePoint),
  baselineCurve: z.array(curvePoint),
  /** Per module: the exported variant, its files in the bundle, knob values and lineage (newest first). */
  modules: z.partialRecord(z.enum(MODULE_NAMES), z.object({
    hash: z.string(),
    origin: z.string(),
    files: z.array(z.string()),
    /**
     * baselineFilesHash of the shipped baseline the export compared against: files equal to it
     * are left out of `files`, and a loader whose baseline hashes differently says so. Absent in
     * bundles exported before files were left out.
     */
    baselineFiles: z.string().regex(/^[0-9a-f]{64}$/).optional(),
    knobValues: z.record(z.string(), z.number()),
    reward: z.number().nullable(),
    rewardInterval: rewardInterval.nullable().optional(),
    curve: z.array(curvePoint),
    lineage: z.array(lineageEntry),
    manifest: moduleManifestSchema,
  })),
  /** The file with every module's knob values (the host parameters): { module: { knob: value } }. */
  params: z.literal('params.json'),
  /** sha256 over every bundle file but manifest.json (sorted by path: path, NUL, content, NUL). */
  contentHash: z.string().regex(/^[0-9a-f]{64}$/),
});
export type BundleManifest = z.infer<typeof bundleManifestSchema>;

/** sha256 over the bundle's files (relative path, NUL, content, NUL; sorted by path), manifest.json excluded. */
export function bundleContentHash(dir: string): string {
  const files: string[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (r !== 'manifest.json') files.push(r);
    }
  };
  walk('');
  const h = createHash('sha256');
  for (const f of files.sort()) h.update(`${f}\0`).update(readFileSync(path.join(dir, f))).update('\0');
  return h.digest('hex');
}

/** Reads and validates a bundle; checks its files against the content hash. */
export function readBundle(dir: string): BundleManifest {
  const file = path.join(dir, 'manifest.json');
  if (!existsSync(file)) throw new UserError(`${dir}: not a kernel bundle (no manifest.json)`);
  assertRegularFileSync(file);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UserError(`${file}: not valid JSON (${oneLine(err)}); expected a kernel bundle manifest (kernels/README.md)`);
  }
  const r = bundleManifestSchema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new UserError(`${file}: ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  const actual = bundleContentHash(dir);
  if (actual !== r.data.contentHash) throw new UserError(`${file}: contentHash does not match the bundle's files (${actual.slice(0, 12)}); the bundle was edited`);
  return r.data;
}
