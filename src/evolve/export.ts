/**
 * Tuned-kernel bundles: the best variant of each module of a run, as a folder users ship
 * (kernels/README.md documents the format). The folder is built beside its destination and renamed
 * into place, so an interrupted export leaves nothing half-written.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { MODULE_NAMES, curvePoint, moduleManifestSchema, operatingPointFields, rewardInterval, type ModuleName } from './contract.ts';
import { getVariant } from './store.ts';
import { bestOf, ok, type RunState } from './run-state.ts';
import { lineage, loadRun } from './runs.ts';
import { oneLine, UserError } from '../errors.ts';
import { assertRegularFileSync } from '../data/vecs.ts';

export const BUNDLE_FORMAT = 'crinn-kernel-bundle';
export const BUNDLE_VERSION = 1;

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

export interface ExportOptions {
  /** Bundle folder to create (must not exist, or be empty). */
  out: string;
  /** Adapter description (src/gpu/adapters.ts AdapterDescription) when the exporter could open it. */
  adapter?: BundleManifest['adapter'];
  datasetFingerprint?: string | null;
  name?: string;
}

/** Slug for a default bundle name: 'nvidia-h200 (vulkan)' + 'siftsmall-5k' -> 'nvidia-h200-vulkan--siftsmall-5k'. */
export function bundleName(adapter: string, dataset: string): string {
  const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60) || 'unknown';
  return `${slug(adapter)}--${slug(path.basename(dataset).replace(/\.[^.]*$/, ''))}`;
}

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

/** The exported variant of each module: the stage's best, else none (the module keeps its baseline). */
function chosen(st: RunState): { module: ModuleName; hash: string }[] {
  const out: { module: ModuleName; hash: string }[] = [];
  for (const s of st.stages) {
    const b = bestOf(s);
    if (b) out.push({ module: s.module, hash: b.hash });
  }
  return out;
}

export function exportRun(runDir: string, o: ExportOptions): { dir: string; manifest: BundleManifest } {
  const st = loadRun(runDir);
  const picks = chosen(st);
  if (picks.length === 0) throw new UserError(`${runDir}: no stage has a successful evaluation yet; nothing to export`);
  const lastStage = st.stages.filter((s) => bestOf(s)).at(-1)!;
  const final = bestOf(lastStage)!.verdict!;
  const adapterName = final.adapter || 'unknown';
  const out = path.resolve(o.out);
  if (existsSync(out) && (!statSync(out).isDirectory() || readdirSync(out).length > 0)) throw new UserError(`--out: ${o.out} exists and is not an empty folder`);
  mkdirSync(path.dirname(out), { recursive: true });
  const tmp = mkdtempSync(path.join(path.dirname(out), `.${path.basename(out)}.tmp-`));
  try {
    const modules: BundleManifest['modules'] = {};
    const params: Record<string, Record<string, number>> = {};
    for (const { module, hash } of picks) {
      const v = getVariant(runDir, hash);
      const stage = st.stages.find((s) => s.module === module)!;
      const best = bestOf(stage)!;
      const files = v.files.map((f) => {
        const rel = `${module}/${f.path}`;
        mkdirSync(path.dirname(path.join(tmp, rel)), { recursive: true });
        writeFileSync(path.join(tmp, rel), f.content);
        return rel;
      });
      params[module] = v.variant.knobValues;
      modules[module] = {
        hash, origin: v.variant.origin, files, knobValues: v.variant.knobValues,
        reward: best.verdict!.reward, rewardInterval: best.verdict!.interval ?? null, curve: best.verdict!.variantCurve,
        lineage: lineage(st, hash).map((p) => {
          const ev = stage.proposals.find((x) => x.hash === p.hash && x.verdict);
          return { hash: p.hash, origin: p.origin, reward: ev && ok(ev) ? ev.verdict.reward : null };
        }),
        manifest: v.variant.manifest,
      };
    }
    writeFileSync(path.join(tmp, 'params.json'), `${JSON.stringify(params, null, 2)}\n`);
    const manifest: BundleManifest = bundleManifestSchema.parse({
      format: BUNDLE_FORMAT,
      version: BUNDLE_VERSION,
      name: o.name ?? path.basename(out),
      createdAt: new Date().toISOString(),
      run: { id: st.runId, policy: st.config.policy, seed: st.config.seed, stages: st.config.stages, evaluations: st.stages.reduce((n, s) => n + s.proposals.filter((p) => p.verdict).length, 0) },
      adapter: o.adapter ?? { name: adapterName },
      dataset: { name: final.dataset || st.config.dataset, fingerprint: o.datasetFingerprint ?? null },
      reward: final.reward, rewardInterval: final.interval ?? null, overallReward: Object.values(modules).reduce<number | null>((g, m) => (g === null || m!.reward === null ? null : g * m!.reward), 1), auc: final.variantAuc, baselineAuc: final.baselineAuc,
      qpsAt90: final.qpsAt90, qpsAt95: final.qpsAt95, qpsAt99: final.qpsAt99, evaluationsAt95: final.evaluationsAt95,
      curve: final.variantCurve, baselineCurve: final.baselineCurve,
      modules,
      params: 'params.json',
      contentHash: bundleContentHash(tmp),
    });
    writeFileSync(path.join(tmp, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    if (existsSync(out)) rmdirSync(out);
    renameSync(tmp, out);
    return { dir: out, manifest };
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
