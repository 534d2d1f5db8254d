/**
 * TEXMEX vector files: .fvecs (f32), .ivecs (i32), .bvecs (u8). Each record is a little-endian
 * int32 `dim` followed by `dim` values. Readers stream through a file handle in bounded chunks
 * and validate every record header, so a bad file fails with the record index instead of
 * silently shifting every later row. Writers go through a temp file and a rename.
 */
import { realpathSync, statSync, type Stats } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import os from 'node:os';
import { UserError } from '../errors.ts';
import type { VectorSet } from './types.ts';
import { trackTemp } from './temp-files.ts';

export type VecsKind = 'fvecs' | 'ivecs' | 'bvecs';

/** Integer rows (.ivecs), e.g. id-based ground truth: `data[i * dim + j]`. */
export interface IntVectorSet {
  data: Int32Array;
  n: number;
  dim: number;
}

export interface ReadVecsOptions {
  /** Read only the first `limit` rows (the rest of the file is not checked). */
  limit?: number;
}

/** Dimensions beyond this are taken as a sign of a wrong format, not a real vector. */
export const MAX_DIM = 65536;
const CHUNK_BYTES = 8 << 20;
const ELEM_BYTES: Record<VecsKind, number> = { fvecs: 4, ivecs: 4, bvecs: 1 };

if (os.endianness() !== 'LE') throw new Error('crinn: vector files are read through typed-array views, which needs a little-endian host');

export function vecsKindOf(file: string): VecsKind | undefined {
  const ext = path.extname(file).toLowerCase().slice(1);
  return ext === 'fvecs' || ext === 'ivecs' || ext === 'bvecs' ? ext : undefined;
}

/** Opens a file for reading, turning the common fs failures into one-line UserErrors. */
export async function openInput(file: string): Promise<{ fh: FileHandle; size: number }> {
  await assertRegularFile(file);
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    throw fsUserError(file, err);
  }
  const st = await fh.stat();
  if (st.isDirectory()) {
    await fh.close();
    throw new UserError(`${file}: is a directory, expected a file`);
  }
  return { fh, size: st.size };
}

/** Pseudo file systems whose "regular" files lie about their size or never end (/proc/self/..., /sys/...). */
const PSEUDO_FS = ['/proc', '/sys'];

/** The pseudo file system (/proc, /sys) a real path lies in, if any: no place for data, read or written. */
export function pseudoFsOf(realPath: string): string | undefined {
  return PSEUDO_FS.find((d) => realPath === d || realPath.startsWith(`${d}/`));
}

/** Why `file` (stat `st`, after following symlinks) is no input to read, or undefined for a regular file. */
function notRegular(file: string, st: Stats): UserError | undefined {
  if (st.isDirectory()) return new UserError(`${file}: is a directory, expected a file`);
  if (!st.isFile()) {
    const kind = st.isFIFO() ? 'a FIFO (named pipe)' : st.isCharacterDevice() ? 'a character device' : st.isBlockDevice() ? 'a block device' : st.isSocket() ? 'a socket' : 'not a regular file';
    return new UserError(`${file}: is ${kind}, expected a regular file`);
  }
  let real = path.resolve(file);
  try {
    real = realpathSync(file);
  } catch {
    // stat succeeded, so this is a race; the resolved spelling is checked instead.
  }
  const fs = pseudoFsOf(real);
  if (fs) return new UserError(`${file}: lies in ${fs} (a kernel pseudo file system), expected a regular data file`);
  return undefined;
}

/**
 * The one reader check: refuses anything but a regular file (after following symlinks) before it
 * is opened: opening a FIFO blocks until a writer appears, a device such as /dev/urandom reports
 * size 0 and /dev/zero never ends, and /proc and /sys files report sizes that are not their contents.
 */
export async function assertRegularFile(file: string): Promise<void> {
  let st;
  try {
    st = await stat(file);
  } catch (err) {
    throw fsUserError(file, err);
  }
  const bad = notRegular(file, st);
  if (bad) throw bad;
}

/** assertRegularFile for synchronous readers (journals, variant folders, bundle manifests). */
export function assertRegularFileSync(file: string): void {
  let st;
  try {
    st = statSync(file);
  } catch (err) {
    throw fsUserError(file, err);
  }
  const bad = notRegular(file, st);
  if (bad) throw bad;
}

/** Maps ENOENT/EACCES/EISDIR/ENOTDIR/ELOOP to a UserError naming the file; other errors pass through. */
export function fsUserError(file: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return new UserError(`${file}: file not found`);
  if (code === 'EACCES' || code === 'EPERM') return new UserError(`${file}: permission denied`);
  if (code === 'EISDIR') return new UserError(`${file}: is a directory, expected a file`);
  if (code === 'ENOTDIR') return new UserError(`${file}: a part of the path is not a folder`);
  if (code === 'ELOOP') return new UserError(`${file}: too many levels of symbolic links`);
  return err instanceof Error ? err : new Error(String(err));
}

export function checkLimit(limit: number | undefined, field = 'limit'): void {
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) {
    throw new UserError(`${field}: expected a positive integer, got ${limit}`);
  }
}

/** Shape of a vecs file from its first header and size, without reading the rows. */
export async function vecsShape(file: string, kind: VecsKind = vecsKindOf(file) ?? 'fvecs'): Promise<{ n: number; dim: number }> {
  const { fh, size } = await openInput(file);
  try {
    const dim = await readFirstDim(fh, size, file, kind);
    return { n: Math.floor(size / (4 + dim * ELEM_BYTES[kind])), dim };
  } finally {
    await fh.close();
  }
}

async function readFirstDim(fh: FileHandle, size: number, file: string, kind: VecsKind): Promise<number> {
  if (size === 0) throw new UserError(`${file}: empty file, expected .${kind} records`);
  if (size < 4) throw new UserError(`${file}: truncated: record 0 has ${size} of 4 header bytes`);
  const head = Buffer.alloc(4);
  await fh.read(head, 0, 4, 0);
  const dim = head.readInt32LE(0);
  if (dim <= 0 || dim > MAX_DIM) {
    throw new UserError(`${file}: record 0 declares dimension ${dim}, expected 1..${MAX_DIM} (is this really a .${kind} file?)`);
  }
  return dim;
}

/**
 * Streams all records (or the first `limit`) into one typed array. `copy` moves one record's
 * values into the output at element offset `at`; `checkRow` validates a row after the copy.
 */
async function readRecords<T extends Float32Array | Int32Array>(
  file: string,
  kind: VecsKind,
  opts: ReadVecsOptions,
  alloc: (len: number) => T,
  copy: (buf: Buffer, off: number, dim: number, out: T, at: number) => void,
  checkRow?: (out: T, row: number, dim: number) => void,
): Promise<{ data: T; n: number; dim: number }> {
  checkLimit(opts.limit);
  const { fh, size } = await openInput(file);
  try {
    const dim = await readFirstDim(fh, size, file, kind);
    const recBytes = 4 + dim * ELEM_BYTES[kind];
    const whole = Math.floor(size / recBytes);
    const n = opts.limit !== undefined ? Math.min(opts.limit, whole) : whole;
    // A partial trailing record is only reported when the read reaches it.
    const wantTail = opts.limit === undefined || opts.limit > whole;
    const out = alloc(n * dim);
    const rowsPerChunk = Math.max(1, Math.floor(CHUNK_BYTES / recBytes));
    // An unpooled buffer starts at byte 0 of its ArrayBuffer, so 4-byte typed views line up.
    const buf = Buffer.allocUnsafeSlow(rowsPerChunk * recBytes);
    for (let row = 0; row < n; ) {
      const rows = Math.min(rowsPerChunk, n - row);
      const want = rows * recBytes;
      const { bytesRead } = await fh.read(buf, 0, want, row * recBytes);
      if (bytesRead !== want) throw new UserError(`${file}: file changed while reading (short read at record ${row})`);
      for (let r = 0; r < rows; r++) {
        const off = r * recBytes;
        const d = buf.readInt32LE(off);
        if (d !== dim) {
          throw new UserError(`${file}: record ${row + r} has dimension ${d}, expected ${dim} (the dimension of record 0)`);
        }
        copy(buf, off + 4, dim, out, (row + r) * dim);
        checkRow?.(out, row + r, dim);
      }
      row += rows;
    }
    if (wantTail && size !== whole * recBytes) {
      const rest = size - whole * recBytes;
      const head = Buffer.alloc(4);
      if (rest >= 4) {
        await fh.read(head, 0, 4, whole * recBytes);
        const d = head.readInt32LE(0);
        if (d !== dim) throw new UserError(`${file}: record ${whole} has dimension ${d}, expected ${dim} (the dimension of record 0)`);
      }
      throw new UserError(
        `${file}: truncated: record ${whole} has ${rest} of ${recBytes} bytes (dim ${dim}); file size ${size} is not a multiple of the record size`,
      );
    }
    return { data: out, n, dim };
  } finally {
    await fh.close();
  }
}

function checkFiniteRow(file: string) {
  return (out: Float32Array, row: number, dim: number): void => {
    const base = row * dim;
    for (let t = 0; t < dim; t++) {
      const v = out[base + t];
      if (v - v !== 0) throw new UserError(`${file}: row ${row} has a non-finite value (${v}) at column ${t}`);
    }
  };
}

export async function readFvecs(file: string, opts: ReadVecsOptions = {}): Promise<VectorSet> {
  return readRecords(
    file,
    'fvecs',
    opts,
    (len) => new Float32Array(len),
    (buf, off, dim, out, at) => out.set(new Float32Array(buf.buffer, buf.byteOffset + off, dim), at),
    checkFiniteRow(file),
  );
}

/** Reads .bvecs (u8 values) as float32 rows. */
export async function readBvecs(file: string, opts: ReadVecsOptions = {}): Promise<VectorSet> {
  return readRecords(
    file,
    'bvecs',
    opts,
    (len) => new Float32Array(len),
    (buf, off, dim, out, at) => out.set(buf.subarray(off, off + dim), at),
  );
}

export async function readIvecs(file: string, opts: ReadVecsOptions = {}): Promise<IntVectorSet> {
  return readRecords(
    file,
    'ivecs',
    opts,
    (len) => new Int32Array(len),
    (buf, off, dim, out, at) => out.set(new Int32Array(buf.buffer, buf.byteOffset + off, dim), at),
  );
}

/** Reads .fvecs or .bvecs by extension (float rows). */
export async function readFloatVecs(file: string, opts: ReadVecsOptions = {}): Promise<VectorSet> {
  const kind = vecsKindOf(file);
  if (kind === 'bvecs') return readBvecs(file, opts);
  if (kind === 'fvecs') return readFvecs(file, opts);
  throw new UserError(`${file}: expected a .fvecs or .bvecs file`);
}

function tempPathFor(dest: string): string {
  return path.join(path.dirname(dest), `.${path.basename(dest)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

function writeFailure(dest: string, err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return new UserError(`${dest}: cannot write, folder ${path.dirname(dest)} does not exist`);
  if (code === 'EACCES' || code === 'EPERM') return new UserError(`${dest}: cannot write, permission denied`);
  if (code === 'EISDIR') return new UserError(`${dest}: is a directory, expected a file name`);
  return err;
}

/**
 * Runs `write(tmp)` against a temp path in the destination's folder, then renames it into place;
 * on any failure the temp file is removed, so the destination is either complete or untouched.
 */
export async function withTempFile<T>(dest: string, write: (tmp: string) => Promise<T>): Promise<T> {
  return withTempFiles([dest], ([tmp]) => write(tmp));
}

/**
 * Several outputs that belong together (ids and distances): every temp file is written before
 * any is renamed, so a failure in any write leaves every destination untouched. Only a failing
 * rename (after the pre-checks of src/data/output-paths.ts, practically never) can split the pair.
 */
export async function withTempFiles<T>(dests: readonly string[], write: (tmps: string[]) => Promise<T>): Promise<T> {
  const tmps = dests.map(tempPathFor);
  const untrack = tmps.map(trackTemp);
  let i = 0;
  try {
    const result = await write(tmps);
    for (; i < dests.length; i++) await rename(tmps[i], dests[i]);
    return result;
  } catch (err) {
    await Promise.all(tmps.map((t) => rm(t, { force: true })));
    throw writeFailure(dests[Math.min(i, dests.length - 1)], err);
  } finally {
    untrack.forEach((u) => u());
  }
}

function checkShape(file: string, values: Float32Array | Int32Array, n: number, dim: number): void {
  if (!(Number.isInteger(dim) && dim > 0 && dim <= MAX_DIM)) throw new UserError(`${file}: cannot write dimension ${dim}, expected 1..${MAX_DIM}`);
  if (!(Number.isInteger(n) && n >= 0) || values.length !== n * dim) {
    throw new UserError(`${file}: cannot write ${n} x ${dim} rows from ${values.length} values`);
  }
}

/** Streams the records into `file` (a temp path; the caller renames it). */
async function writeRecordsTo(file: string, values: Float32Array | Int32Array, n: number, dim: number): Promise<void> {
  const recBytes = 4 + dim * 4;
  const rowsPerChunk = Math.max(1, Math.floor(CHUNK_BYTES / recBytes));
  const fh = await open(file, 'w');
  try {
    const buf = Buffer.allocUnsafeSlow(rowsPerChunk * recBytes);
    const src = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    for (let row = 0; row < n; ) {
      const rows = Math.min(rowsPerChunk, n - row);
      for (let r = 0; r < rows; r++) {
        buf.writeInt32LE(dim, r * recBytes);
        buf.set(src.subarray((row + r) * dim * 4, (row + r + 1) * dim * 4), r * recBytes + 4);
      }
      await fh.write(buf, 0, rows * recBytes);
      row += rows;
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function writeFvecs(file: string, set: VectorSet): Promise<void> {
  checkShape(file, set.data, set.n, set.dim);
  await withTempFile(file, (tmp) => writeRecordsTo(tmp, set.data, set.n, set.dim));
}

export async function writeIvecs(file: string, set: IntVectorSet): Promise<void> {
  checkShape(file, set.data, set.n, set.dim);
  await withTempFile(file, (tmp) => writeRecordsTo(tmp, set.data, set.n, set.dim));
}

/** Ids (.ivecs) and distances (.fvecs) as a pair: both files are written, or neither is touched. */
export async function writeNeighborFiles(idsPath: string, ids: IntVectorSet, distPath: string, dists: VectorSet): Promise<void> {
  checkShape(idsPath, ids.data, ids.n, ids.dim);
  checkShape(distPath, dists.data, dists.n, dists.dim);
  await withTempFiles([idsPath, distPath], async ([ti, td]) => {
    await writeRecordsTo(ti, ids.data, ids.n, ids.dim);
    await writeRecordsTo(td, dists.data, dists.n, dists.dim);
  });
}
