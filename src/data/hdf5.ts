/**
 * ann-benchmarks HDF5 files: 2-D datasets `train` and `test` (float rows), `neighbors` (int ids,
 * one row per test vector) and `distances` (float, same shape), plus a root attribute `distance`
 * ('euclidean' | 'angular' | 'dot'). Read and written through h5wasm (HDF5 compiled to wasm).
 * Every layout problem becomes one UserError naming the file and the dataset.
 */
import type H5wasmModule from 'h5wasm/node';
import type { File as H5File } from 'h5wasm/node';
import { UserError } from '../errors.ts';
import { parseMetric } from './types.ts';
import type { Metric, VectorSet } from './types.ts';
import { assertFiniteRows } from './metric.ts';
import { checkLimit, openInput, withTempFile } from './vecs.ts';
import type { IntVectorSet } from './vecs.ts';

/** The contents of an ann-benchmarks file. `distances` are as stored (ann-benchmarks units: L2, not squared). */
export interface AnnHdf5 {
  metric: Metric;
  train: VectorSet;
  test: VectorSet;
  neighbors?: IntVectorSet;
  distances?: VectorSet;
}

export interface AnnHdf5Shape {
  metric: Metric;
  train: { n: number; dim: number };
  test: { n: number; dim: number };
  neighbors?: { n: number; k: number };
}

export interface ReadHdf5Options {
  /** First `limit` train rows only. */
  limit?: number;
  /** First `queries` test rows (and their neighbor rows) only. */
  queries?: number;
}

const METRIC_ATTR: Record<Metric, string> = { l2: 'euclidean', angular: 'angular', ip: 'dot' };
const H5T_INTEGER = 0;
const H5T_FLOAT = 1;
const SLICE_BYTES = 16 << 20;
const SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * By default HDF5's C library prints a multi-line diagnostic stack to stderr; h5wasm's throwing
 * handler turns it into the thrown error's text instead, from which we keep the innermost reason.
 */
let h5ready: Promise<void> | undefined;
// Loaded on first use, not at import: compiling HDF5's wasm costs every CLI start-up ~0.3 s.
let h5wasm: typeof H5wasmModule;
function ready(): Promise<void> {
  h5ready ??= import('h5wasm/node').then(async (mod) => {
    h5wasm = mod.default;
    (await h5wasm.ready).activate_throwing_error_handler();
  });
  return h5ready;
}

/** The HDF5 signature sits at byte 0, or at 512, 1024, ... after a user block. */
export async function assertHdf5Signature(file: string): Promise<void> {
  const { fh, size } = await openInput(file);
  try {
    const sig = Buffer.alloc(8);
    for (let at = 0; at + 8 <= size; at = at === 0 ? 512 : at * 2) {
      await fh.read(sig, 0, 8, at);
      if (sig.equals(SIGNATURE)) return;
    }
  } finally {
    await fh.close();
  }
  throw new UserError(`${file}: not an HDF5 file (no HDF5 signature); expected an ann-benchmarks .hdf5 file`);
}

async function openHdf5(file: string): Promise<H5File> {
  await assertHdf5Signature(file);
  await ready();
  let f: H5File | undefined;
  try {
    f = new h5wasm.File(file, 'r');
    f.keys(); // a broken superblock only shows up on first use
    return f;
  } catch (err) {
    try {
      f?.close();
    } catch {
      // the handle was never valid
    }
    throw new UserError(`${file}: cannot read HDF5 file (${firstLine(err)}); it may be truncated or corrupt`);
  }
}

/** The innermost HDF5 reason ("truncated file: eof = ...") or the error's first line. */
function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const reasons = [...text.matchAll(/#\d+: .*? in [\w.]+\(\): (.*)/g)].map((m) => m[1].trim());
  return reasons.at(-1) ?? text.split('\n')[0].trim();
}

interface Dims {
  ds: InstanceType<typeof h5wasm.Dataset>;
  rows: number;
  cols: number;
}

/** Looks up a 2-D numeric dataset, checking it exists, its rank and its element class. */
function dataset(f: H5File, file: string, name: string, want: 'float' | 'int' | 'numeric', required: true): Dims;
function dataset(f: H5File, file: string, name: string, want: 'float' | 'int' | 'numeric', required: false): Dims | undefined;
function dataset(f: H5File, file: string, name: string, want: 'float' | 'int' | 'numeric', required: boolean): Dims | undefined {
  if (!f.keys().includes(name)) {
    if (!required) return undefined;
    throw new UserError(`${file}: missing dataset '${name}'; expected the ann-benchmarks layout (train, test, neighbors, distances)`);
  }
  const ds = f.get(name);
  if (!(ds instanceof h5wasm.Dataset)) {
    const found = ds && 'type' in ds ? String(ds.type).toLowerCase() : 'nothing readable';
    throw new UserError(`${file}: '${name}' is not a dataset (found a ${found}); expected a 2-D array`);
  }
  const d = ds;
  const shape = d.shape ?? [];
  if (shape.length !== 2) {
    throw new UserError(`${file}: dataset '${name}' has rank ${shape.length} (shape [${shape.join(', ')}]); expected a 2-D array`);
  }
  const meta = d.metadata;
  const cls = meta.type === H5T_FLOAT ? 'float' : meta.type === H5T_INTEGER ? 'int' : 'other';
  const ok = want === 'numeric' ? cls !== 'other' : cls === want;
  if (!ok) {
    const expected = want === 'int' ? 'an integer type (int32)' : want === 'float' ? 'a float type (float32)' : 'a numeric type (float32)';
    throw new UserError(`${file}: dataset '${name}' has type ${describeType(meta.type, meta.size)}; expected ${expected}`);
  }
  return { ds: d, rows: shape[0], cols: shape[1] };
}

function describeType(type: number, size: number): string {
  if (type === H5T_FLOAT) return `float${size * 8}`;
  if (type === H5T_INTEGER) return `int${size * 8}`;
  return ['integer', 'float', 'time', 'string', 'bitfield', 'opaque', 'compound', 'reference', 'enum', 'vlen', 'array'][type] ?? `class ${type}`;
}

/** Reads rows [0, rows) in bounded slices so the wasm heap never holds a whole large dataset. */
function readRows<T extends Float32Array | Int32Array>(d: Dims, rows: number, out: T, file: string, name: string): T {
  const step = Math.max(1, Math.floor(SLICE_BYTES / (Math.max(1, d.cols) * 8)));
  for (let r = 0; r < rows; r += step) {
    const end = Math.min(rows, r + step);
    const part = (d.ds.slice([[r, end], []]));
    if (part instanceof BigInt64Array || part instanceof BigUint64Array) {
      const at = r * d.cols;
      for (let i = 0; i < part.length; i++) {
        const v = Number(part[i]);
        if (!Number.isSafeInteger(v) || v < -0x80000000 || v > 0x7fffffff) {
          throw new UserError(`${file}: dataset '${name}' row ${r + Math.floor(i / d.cols)} holds ${part[i]}, outside the int32 range`);
        }
        out[at + i] = v;
      }
    } else if (ArrayBuffer.isView(part)) {
      out.set(part as unknown as ArrayLike<number>, r * d.cols);
    } else {
      throw new UserError(`${file}: dataset '${name}' did not read as a numeric array`);
    }
  }
  return out;
}

function readMetric(f: H5File, file: string): Metric {
  const attrs = (f.attrs);
  if (!('distance' in attrs)) throw new UserError(`${file}: missing root attribute 'distance'; expected 'euclidean', 'angular' or 'dot'`);
  const value = (attrs.distance.value);
  return parseMetric(String(value), `${file}: attribute 'distance'`);
}

function shapeOf(f: H5File, file: string) {
  const metric = readMetric(f, file);
  const train = dataset(f, file, 'train', 'numeric', true);
  const test = dataset(f, file, 'test', 'numeric', true);
  if (test.cols !== train.cols) throw new UserError(`${file}: dataset 'test' has dimension ${test.cols}, but 'train' has ${train.cols}`);
  if (train.rows === 0 || train.cols === 0) throw new UserError(`${file}: dataset 'train' is empty (shape [${train.rows}, ${train.cols}])`);
  const neighbors = dataset(f, file, 'neighbors', 'int', false);
  const distances = dataset(f, file, 'distances', 'float', false);
  if (neighbors && neighbors.rows !== test.rows) {
    throw new UserError(`${file}: dataset 'neighbors' has ${neighbors.rows} rows, but 'test' has ${test.rows}`);
  }
  if (distances && (!neighbors || distances.rows !== neighbors.rows || distances.cols !== neighbors.cols)) {
    const ns = neighbors ? `[${neighbors.rows}, ${neighbors.cols}]` : 'absent';
    throw new UserError(`${file}: dataset 'distances' has shape [${distances.rows}, ${distances.cols}], but 'neighbors' is ${ns}`);
  }
  return { metric, train, test, neighbors, distances };
}

/** Shapes and metric only; reads no vectors. */
export async function annHdf5Shape(file: string): Promise<AnnHdf5Shape> {
  const f = await openHdf5(file);
  try {
    const s = shapeOf(f, file);
    return {
      metric: s.metric,
      train: { n: s.train.rows, dim: s.train.cols },
      test: { n: s.test.rows, dim: s.test.cols },
      neighbors: s.neighbors ? { n: s.neighbors.rows, k: s.neighbors.cols } : undefined,
    };
  } finally {
    (f.close());
  }
}

export async function readAnnHdf5(file: string, opts: ReadHdf5Options = {}): Promise<AnnHdf5> {
  checkLimit(opts.limit);
  checkLimit(opts.queries, 'queries');
  const f = await openHdf5(file);
  try {
    const s = shapeOf(f, file);
    const dim = s.train.cols;
    const n = Math.min(opts.limit ?? s.train.rows, s.train.rows);
    const nq = Math.min(opts.queries ?? s.test.rows, s.test.rows);
    const train = { data: readRows(s.train, n, new Float32Array(n * dim), file, 'train'), n, dim };
    const test = { data: readRows(s.test, nq, new Float32Array(nq * dim), file, 'test'), n: nq, dim };
    assertFiniteRows(train, `${file}: dataset 'train'`);
    assertFiniteRows(test, `${file}: dataset 'test'`);
    const out: AnnHdf5 = { metric: s.metric, train, test };
    if (s.neighbors) {
      const k = s.neighbors.cols;
      const ids = readRows(s.neighbors, nq, new Int32Array(nq * k), file, 'neighbors');
      for (let i = 0; i < ids.length; i++) {
        if (ids[i] < 0 || ids[i] >= s.train.rows) {
          throw new UserError(`${file}: dataset 'neighbors' row ${Math.floor(i / k)} holds id ${ids[i]}, outside 'train' rows 0..${s.train.rows - 1}`);
        }
      }
      out.neighbors = { data: ids, n: nq, dim: k };
      if (s.distances) out.distances = { data: readRows(s.distances, nq, new Float32Array(nq * k), file, 'distances'), n: nq, dim: k };
    }
    return out;
  } catch (err) {
    if (err instanceof UserError) throw err;
    if (err instanceof RangeError) throw new UserError(`${file}: too large to load (${err.message}); pass a row limit`);
    throw new UserError(`${file}: cannot read HDF5 data (${firstLine(err)}); it may be truncated or corrupt`);
  } finally {
    (f.close());
  }
}

/** Writes the ann-benchmarks layout (float32 vectors, int32 neighbors, float32 distances), atomically. */
export async function writeAnnHdf5(file: string, data: AnnHdf5): Promise<void> {
  const { train, test, neighbors, distances } = data;
  if (test.dim !== train.dim) throw new UserError(`${file}: cannot write test dimension ${test.dim} with train dimension ${train.dim}`);
  if (neighbors && neighbors.n !== test.n) throw new UserError(`${file}: cannot write ${neighbors.n} neighbor rows for ${test.n} test rows`);
  if (distances && (!neighbors || distances.n !== neighbors.n || distances.dim !== neighbors.dim)) {
    throw new UserError(`${file}: cannot write distances whose shape differs from neighbors`);
  }
  await ready();
  await withTempFile(file, async (tmp) => {
    const f = new h5wasm.File(tmp, 'w');
    try {
      f.create_attribute('distance', METRIC_ATTR[data.metric]);
      f.create_attribute('type', 'dense');
      f.create_attribute('point_type', 'float');
      f.create_attribute('dimension', train.dim);
      f.create_dataset({ name: 'train', data: train.data, shape: [train.n, train.dim], dtype: '<f' });
      f.create_dataset({ name: 'test', data: test.data, shape: [test.n, test.dim], dtype: '<f' });
      if (neighbors) f.create_dataset({ name: 'neighbors', data: neighbors.data, shape: [neighbors.n, neighbors.dim], dtype: '<i' });
      if (distances) f.create_dataset({ name: 'distances', data: distances.data, shape: [distances.n, distances.dim], dtype: '<f' });
    } finally {
      f.close();
    }
  });
}
