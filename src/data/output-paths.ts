/**
 * Output-path checks every writing command runs before any work: the folder exists and is
 * writable, the output is not a folder, and no output is the same file as an input or as
 * another output (the `.fvecs` distances written beside an `.ivecs` count as outputs).
 * Same-file is decided by device and inode, so symlinks, hard links and `./` spellings all match.
 */
import { accessSync, constants, mkdirSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { access, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.ts';
import { pseudoFsOf } from './vecs.ts';

export interface NamedPath {
  /** As the user gave it (error messages quote this). */
  path: string;
  /** The flag or role it came from, e.g. '--out' or '--out (distances)'. */
  flag: string;
}

/** dev:ino of an existing file, or the real folder plus name of one that does not exist yet. */
async function identity(p: string): Promise<string> {
  const st = await stat(p).catch(() => undefined);
  if (st) return `inode:${st.dev}:${st.ino}`;
  const dir = await realpath(path.dirname(path.resolve(p))).catch(() => path.dirname(path.resolve(p)));
  return `path:${path.join(dir, path.basename(p))}`;
}

/** The output's folder exists and is writable, and the output is not a folder or a device. */
async function checkWritable(o: NamedPath): Promise<void> {
  const st = await stat(o.path).catch(() => undefined);
  if (st?.isDirectory()) throw new UserError(`${o.flag}: ${o.path} is a directory, expected a file name`);
  if (st && !st.isFile()) throw new UserError(`${o.flag}: ${o.path} is not a regular file (a FIFO, socket or device); refusing to write it`);
  const dir = path.dirname(path.resolve(o.path));
  const realDir = await realpath(dir).catch(() => dir);
  const fs = pseudoFsOf(realDir);
  if (fs) throw new UserError(`${o.flag}: cannot write ${o.path}: ${fs} is a kernel pseudo file system; give a path on a disk`);
  const dst = await stat(dir).catch(() => undefined);
  if (!dst) throw new UserError(`${o.flag}: cannot write ${o.path}: folder ${path.dirname(o.path)} does not exist`);
  if (!dst.isDirectory()) throw new UserError(`${o.flag}: cannot write ${o.path}: ${path.dirname(o.path)} is not a folder`);
  await access(dir, constants.W_OK).catch(() => {
    throw new UserError(`${o.flag}: cannot write ${o.path}: folder ${path.dirname(o.path)} is not writable`);
  });
}

/**
 * Refuses (UserError, exit 1) outputs that cannot be written or that would overwrite an input
 * or each other. `undefined` entries and '-' (stdout) are skipped, so callers pass optional flags as is.
 */
export async function checkOutputs(outputs: readonly (NamedPath | undefined)[], inputs: readonly (NamedPath | undefined)[] = []): Promise<void> {
  const outs = outputs.filter((o): o is NamedPath => o !== undefined && o.path !== '-');
  const ins = inputs.filter((i): i is NamedPath => i !== undefined && i.path !== '-');
  const inIds = await Promise.all(ins.map((i) => identity(i.path)));
  const seen = new Map<string, NamedPath>();
  for (const o of outs) {
    await checkWritable(o);
    const id = await identity(o.path);
    const j = inIds.indexOf(id);
    if (j >= 0) throw new UserError(`${o.flag}: ${o.path} is the same file as the input ${ins[j].flag} ${ins[j].path}; refusing to overwrite an input`);
    const other = seen.get(id);
    if (other) throw new UserError(`${o.flag}: ${o.path} is the same file as ${other.flag} ${other.path}; give each output its own name`);
    seen.set(id, o);
  }
}

/** Every file (or link) in `dir` and its sub-folders: the inputs an output beside them must not replace. */
export function folderFiles(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) folderFiles(p, out);
    else out.push(p);
  }
  return out;
}

const errnoText: Record<string, string> = {
  EACCES: 'permission denied', EPERM: 'permission denied', EROFS: 'read-only file system', ENOSPC: 'no space left on the device',
  ENOENT: 'the file system does not allow creating it', ENOTDIR: 'a part of the path is not a folder', ELOOP: 'too many levels of symbolic links', ENAMETOOLONG: 'name too long',
};

/**
 * Checks that `dir` can be a folder of ours without creating anything: it is a folder or does
 * not exist yet, its nearest existing ancestor is a writable folder, and it is not under /proc or
 * /sys. Returns the missing folders, outermost first. Every refusal is one line naming the flag.
 */
export function planDir(dir: string, flag: string): string[] {
  const abs = path.resolve(dir);
  const missing: string[] = [];
  let p = abs;
  for (;;) {
    let st;
    try {
      st = statSync(p);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? '';
      // ENOTDIR: a file on the way; walking up names it below.
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new UserError(`${flag}: cannot use ${dir}: ${errnoText[code] ?? code}`);
      missing.unshift(p);
      p = path.dirname(p);
      continue;
    }
    if (!st.isDirectory()) throw new UserError(p === abs ? `${flag}: ${dir} exists and is not a folder` : `${flag}: cannot create ${dir}: ${p} is not a folder`);
    break;
  }
  let real = p;
  try {
    real = realpathSync(p);
  } catch {
    // stat just succeeded; keep the spelling
  }
  const fs = pseudoFsOf(real);
  if (fs) throw new UserError(`${flag}: ${dir} lies in ${fs}, a kernel pseudo file system; give a folder on a disk`);
  if (missing.length > 0) {
    try {
      accessSync(p, constants.W_OK);
    } catch {
      throw new UserError(`${flag}: cannot create ${dir}: folder ${p} is not writable`);
    }
  }
  return missing;
}

/**
 * Creates `dir` and its missing parents one level at a time after planDir's checks. Node's
 * recursive mkdir spins forever where a file system answers ENOENT for a name it cannot create
 * (/proc), and its errors name no flag; this fails at once with one line.
 */
export function makeDir(dir: string, flag: string): void {
  for (const m of planDir(dir, flag)) {
    try {
      mkdirSync(m);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? '';
      if (code === 'EEXIST' && statSync(m, { throwIfNoEntry: false })?.isDirectory()) continue;
      throw new UserError(`${flag}: cannot create ${dir}: ${errnoText[code] ?? code}`);
    }
  }
}
