/**
 * Evolvable modules as data: the shipped baseline of each module is described by
 * kernels/baseline/MODULE/manifest.json (files relative to the repository), and a variant folder
 * holds variant.json (the manifest with files relative to the folder, plus knob values) and copies
 * of those files under their base names. Both are validated with the schemas in contract.ts and
 * src/bundle/module-manifest.ts; the baseline manifests are read by src/bundle/baseline.ts.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { basename, join, resolve, sep } from 'node:path';
import { UserError } from '../errors.ts';
import { assertRegularFileSync, fsUserError } from '../data/vecs.ts';
import { MODULE_NAMES, type ModuleManifest, type ModuleName } from '../bundle/module-manifest.ts';
import { REPO_ROOT, baselineManifest, readJson, zodLine } from '../bundle/baseline.ts';
import { variantSchema, type Variant } from './contract.ts';

/** Contract version this evaluator implements (manifest `contract`). */
export const CONTRACT_VERSION = 1;

export function parseModuleName(s: string, field = '--module'): ModuleName {
  if (!(MODULE_NAMES as readonly string[]).includes(s)) throw new UserError(`${field}: unknown module '${s}'; allowed: ${MODULE_NAMES.join(', ')}`);
  return s as ModuleName;
}

export function defaultKnobs(m: ModuleManifest): Record<string, number> {
  return Object.fromEntries(m.knobs.map((k) => [k.name, k.default]));
}

/** A module ready to evaluate: manifest, knob values, file sources by base name, content hash. */
export interface LoadedModule {
  module: ModuleName;
  manifest: ModuleManifest;
  knobs: Record<string, number>;
  /** File contents keyed by base name ('beam_search.wgsl'). */
  sources: Record<string, string>;
  hash: string;
  origin: string;
}

/** sha256 over file names, contents and knob values (the contract's variant hash). */
export function contentHash(sources: Record<string, string>, knobs: Record<string, number>): string {
  const h = createHash('sha256');
  for (const name of Object.keys(sources).sort()) h.update(`${name}\0${sources[name]}\0`);
  for (const name of Object.keys(knobs).sort()) h.update(`${name}=${knobs[name]}\0`);
  return h.digest('hex');
}

export function loadBaseline(module: ModuleName): LoadedModule {
  const manifest = baselineManifest(module);
  const sources = Object.fromEntries(manifest.files.map((f) => [basename(f), readFileSync(join(REPO_ROOT, f), 'utf8')]));
  const knobs = defaultKnobs(manifest);
  return { module, manifest, knobs, sources, hash: contentHash(sources, knobs), origin: 'baseline' };
}

/** Checks knob values against the manifest's ranges; returns the full set (defaults filled). */
export function checkKnobs(manifest: ModuleManifest, values: Record<string, number>, where: string): Record<string, number> {
  const out = defaultKnobs(manifest);
  for (const [name, v] of Object.entries(values)) {
    const k = manifest.knobs.find((x) => x.name === name);
    if (!k) throw new UserError(`${where}: knobValues.${name}: unknown knob; allowed: ${manifest.knobs.map((x) => x.name).join(', ') || '(none)'}`);
    if (!Number.isFinite(v) || v < k.min || v > k.max || (k.integer && !Number.isInteger(v))) {
      throw new UserError(`${where}: knobValues.${name}: ${v} is outside ${k.min}..${k.max}${k.integer ? ' (integer)' : ''}`);
    }
    out[name] = v;
  }
  return out;
}

/**
 * A variant's file must really be inside its folder: the path text can stay inside while a
 * symlink (the file itself or a folder on the way) points anywhere, e.g. at /etc/passwd, which
 * would then be hashed into the variant and read by the evaluator.
 */
function inFolder(file: string, realRoot: string): void {
  let real: string;
  try {
    real = realpathSync(file);
  } catch (e) {
    throw fsUserError(file, e);
  }
  if (!real.startsWith(realRoot + sep)) throw new UserError(`${file}: a symbolic link to ${real}, outside the variant folder; copy the file into the folder instead`);
}

/**
 * Loads and validates a variant folder. Everything wrong with it is a UserError whose message names
 * the file and field (the evaluator turns it into a 'load' verdict). The manifest must match the
 * baseline's module, contract, file names and knob names: a variant edits code and values, not the contract.
 */
export function loadVariant(dir: string): LoadedModule {
  const root = resolve(dir);
  const path = join(root, 'variant.json');
  if (!existsSync(path)) throw new UserError(`${path}: missing (make one with 'crinn variant init')`);
  const realRoot = realpathSync(root);
  inFolder(path, realRoot);
  const r = variantSchema.safeParse(readJson(path));
  if (!r.success) throw new UserError(`${path}: ${zodLine(r.error)}`);
  const v: Variant = r.data;
  const base = baselineManifest(v.manifest.module);
  if (v.manifest.contract !== CONTRACT_VERSION) throw new UserError(`${path}: manifest.contract is ${v.manifest.contract}; this evaluator implements contract ${CONTRACT_VERSION}`);
  const want = base.files.map((f) => basename(f)).sort();
  const got = [...v.manifest.files].sort();
  if (want.join('\0') !== got.join('\0')) throw new UserError(`${path}: manifest.files must be ${JSON.stringify(want)} for module ${v.manifest.module}, got ${JSON.stringify(got)}`);
  const wantKnobs = base.knobs.map((k) => `${k.name}:${k.min}:${k.max}`).sort().join(',');
  const gotKnobs = v.manifest.knobs.map((k) => `${k.name}:${k.min}:${k.max}`).sort().join(',');
  if (wantKnobs !== gotKnobs) throw new UserError(`${path}: manifest.knobs must keep the baseline's names and ranges (${wantKnobs})`);
  const sources: Record<string, string> = {};
  for (const f of v.manifest.files) {
    const p = resolve(root, f);
    if (!p.startsWith(root + sep)) throw new UserError(`${path}: manifest.files: '${f}' lies outside the variant folder`);
    inFolder(p, realRoot);
    assertRegularFileSync(p);
    try {
      sources[f] = readFileSync(p, 'utf8');
    } catch (e) {
      throw new UserError(`${p}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  const knobs = checkKnobs(base, v.knobValues, path);
  return { module: v.manifest.module, manifest: base, knobs, sources, hash: contentHash(sources, knobs), origin: v.origin };
}
