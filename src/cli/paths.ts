/**
 * Output-path checks every writing command runs before any work: the folder exists and is
 * writable, the output is not a folder, and no output is the same file as an input or as
 * another output (the `.fvecs` distances written beside an `.ivecs` count as outputs).
 * Same-file is decided by device and inode, so symlinks, hard links and `./` spellings all match.
 */
import { constants } from 'node:fs';
import { access, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.ts';

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
