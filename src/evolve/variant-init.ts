/**
 * `crinn variant init`: the shipped baseline of one module as a variant folder, ready to edit:
 * variant.json (manifest with folder-relative file names, default knob values) plus the files.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from '../errors.ts';
import type { Variant } from './contract.ts';
import type { ModuleName } from '../bundle/module-manifest.ts';
import { defaultKnobs } from './modules.ts';
import { REPO_ROOT, baselineManifest } from '../bundle/baseline.ts';

export function initVariant(module: ModuleName, out: string): { dir: string; files: string[] } {
  const dir = resolve(out);
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new UserError(`--out: '${out}' exists and is not a folder`);
    if (readdirSync(dir).length > 0) throw new UserError(`--out: '${out}' is not empty; give a new or empty folder`);
  }
  const manifest = baselineManifest(module);
  const files = manifest.files.map((f) => basename(f));
  const variant: Variant = { manifest: { ...manifest, files }, knobValues: defaultKnobs(manifest), parents: [], origin: 'baseline' };
  mkdirSync(dirname(dir), { recursive: true });
  // Built beside the target, then renamed into place: an interrupted init leaves nothing half-written.
  const tmp = mkdtempSync(join(dirname(dir), `.${basename(dir)}.tmp-`));
  try {
    manifest.files.forEach((f, i) => copyFileSync(join(REPO_ROOT, f), join(tmp, files[i])));
    writeFileSync(join(tmp, 'variant.json'), `${JSON.stringify(variant, null, 2)}\n`);
    if (existsSync(dir)) rmdirSync(dir); // empty (checked above)
    renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return { dir, files: ['variant.json', ...files] };
}
