/**
 * The content-addressed variant store of a run: RUN/store/<sha256>/ holds a variant whole (its
 * module files at their manifest paths plus variant.json with the knob values), never a diff. The
 * address is a hash of the files and the knob values, so the same variant proposed twice is stored
 * once, and a folder whose content no longer matches its name is detected (verifyStored).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { variantSchema, type Variant } from './contract.ts';
import { contentHash } from './modules.ts';
import { UserError } from '../errors.ts';

export const STORE_DIR = 'store';
export const VARIANT_FILE = 'variant.json';

export interface VariantFile {
  /** Relative to the variant folder, as the manifest lists it. */
  path: string;
  content: Buffer;
}

export interface StoredVariant {
  hash: string;
  dir: string;
  variant: Variant;
  files: VariantFile[];
}

/** The contract's variant hash (modules.ts contentHash), so store addresses and verdicts' variantHash agree. */
export function variantHash(files: readonly VariantFile[], knobValues: Record<string, number>): string {
  return contentHash(Object.fromEntries(files.map((f) => [f.path, f.content.toString('utf8')])), knobValues);
}

function checkRelative(p: string): void {
  if (path.isAbsolute(p) || p.split(/[\\/]/).includes('..')) throw new UserError(`variant file '${p}': expected a path inside the variant folder`);
}

export function storeDir(runDir: string, hash: string): string {
  return path.join(runDir, STORE_DIR, hash);
}

/**
 * Stores a variant (idempotent) and returns its address. Written into a temp folder and renamed,
 * so a crash leaves either the whole variant or nothing under its name.
 */
export function putVariant(runDir: string, variant: Variant, files: readonly VariantFile[]): StoredVariant {
  const v = variantSchema.parse(variant);
  const listed = new Set(v.manifest.files);
  for (const f of files) {
    checkRelative(f.path);
    if (!listed.has(f.path)) throw new UserError(`variant file '${f.path}': not among the manifest's files (${v.manifest.files.join(', ')})`);
  }
  for (const p of listed) if (!files.some((f) => f.path === p)) throw new UserError(`variant: manifest file '${p}' has no content`);
  const hash = variantHash(files, v.knobValues);
  const dir = storeDir(runDir, hash);
  if (!existsSync(dir)) {
    const tmp = path.join(runDir, STORE_DIR, `.tmp-${hash.slice(0, 12)}-${randomBytes(4).toString('hex')}`);
    mkdirSync(tmp, { recursive: true });
    try {
      for (const f of files) {
        mkdirSync(path.dirname(path.join(tmp, f.path)), { recursive: true });
        writeFileSync(path.join(tmp, f.path), f.content);
      }
      writeFileSync(path.join(tmp, VARIANT_FILE), `${JSON.stringify(v, null, 2)}\n`);
      renameSync(tmp, dir);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      // Another writer stored the same content first: that is the same variant.
      if (!existsSync(dir)) throw err;
    }
  }
  return { hash, dir, variant: v, files: [...files] };
}

/** Reads a stored variant and checks that its content still hashes to its name. */
export function getVariant(runDir: string, hash: string): StoredVariant {
  const dir = storeDir(runDir, hash);
  const vf = path.join(dir, VARIANT_FILE);
  if (!existsSync(vf)) throw new UserError(`${dir}: variant ${hash.slice(0, 12)} is missing from the store`);
  let variant: Variant;
  try {
    variant = variantSchema.parse(JSON.parse(readFileSync(vf, 'utf8')));
  } catch (err) {
    throw new UserError(`${vf}: not a valid variant.json (${(err as Error).message.split('\n')[0]})`);
  }
  const files = variant.manifest.files.map((p) => {
    checkRelative(p);
    const full = path.join(dir, p);
    if (!existsSync(full)) throw new UserError(`${full}: file of variant ${hash.slice(0, 12)} is missing`);
    return { path: p, content: readFileSync(full) };
  });
  const actual = variantHash(files, variant.knobValues);
  if (actual !== hash) throw new UserError(`${dir}: content hashes to ${actual.slice(0, 12)}, not to its name (the store was edited)`);
  return { hash, dir, variant, files };
}
