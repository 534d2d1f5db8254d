/**
 * The index file, version 2 (all integers little-endian):
 *
 *   offset  size
 *   0       8     magic "CRNNIDX\0"
 *   8       4     version (u32) = 2 (version 1 had no entry layer and no fields at 44, 48)
 *   12      4     metric (u32): 0 l2, 1 ip, 2 angular
 *   16      4     dim (u32)
 *   20      4     n (u32)
 *   24      4     degree (u32)
 *   28      4     vector storage (u32): 0 f32, 1 f16
 *   32      4     numEntryPoints (u32)
 *   36      4     flags (u32), 0 (reserved)
 *   40      4     build-params JSON length L (u32)
 *   44      4     entry-layer nodes M (u32, >= 1)
 *   48      4     entry-layer degree E (u32, >= 1)
 *   52      L     build params, UTF-8 JSON, then zero padding to a multiple of 4
 *           ...   vectors, n * dim f32 or f16, row-major, zero padding to a multiple of 4
 *           ...   graph, n * degree u32 (0xFFFFFFFF = no neighbour)
 *           ...   entry points, numEntryPoints u32
 *           ...   entry layer: M base ids u32, then M * E local edges u32 (0xFFFFFFFF = none)
 *           32    SHA-256 of every byte before it
 *
 * Saving streams to a temporary file beside the target and renames it over, so a crash never
 * leaves a partial index. Loading checks magic, version, size, checksum, then that every id is in
 * range (graph edges, entry points, the entry layer), each failure a one-line UserError that names
 * the file and the field: a file with a valid checksum but a bad id would otherwise be searched.
 */
import { createHash } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { endianness } from 'node:os';
import type { Metric } from '../data/types.ts';
import { UserError } from '../errors.ts';
import { NO_NEIGHBOR, type Graph } from './graph.ts';
import { checkEntryLayer, type EntryLayer } from './entry-layer.ts';
import type { BuildParams } from './params.ts';
import { f16ToF32Array, f32ToF16Array } from './f16.ts';

export const INDEX_MAGIC = 'CRNNIDX\0';
export const INDEX_VERSION = 2;
const HEADER_BYTES = 52;
const HASH_BYTES = 32;
const METRIC_CODES: readonly Metric[] = ['l2', 'ip', 'angular'];

export type VectorStorage = 'f32' | 'f16';

export interface Index {
  metric: Metric;
  dim: number;
  n: number;
  /** How the file stores the vectors (and how the GPU uploads them). */
  storage: VectorStorage;
  /** Always f32 in memory; with f16 storage these are the f16-rounded values. */
  vectors: Float32Array;
  graph: Graph;
  entryPoints: Uint32Array;
  /** The sampled upper graph the search starts in. */
  entryLayer: EntryLayer;
  /** The parameters the graph was built with, as recorded. */
  buildParams: BuildParams;
}

const pad4 = (x: number): number => (x + 3) & ~3;

function layout(n: number, dim: number, degree: number, storage: VectorStorage, entries: number, jsonBytes: number, layerNodes: number, layerDegree: number) {
  const vectorsAt = HEADER_BYTES + pad4(jsonBytes);
  const vectorBytes = n * dim * (storage === 'f16' ? 2 : 4);
  const graphAt = vectorsAt + pad4(vectorBytes);
  const entriesAt = graphAt + n * degree * 4;
  const layerIdsAt = entriesAt + entries * 4;
  const layerEdgesAt = layerIdsAt + layerNodes * 4;
  const hashAt = layerEdgesAt + layerNodes * layerDegree * 4;
  return { vectorsAt, vectorBytes, graphAt, entriesAt, layerIdsAt, layerEdgesAt, hashAt, total: hashAt + HASH_BYTES };
}

function checkHost(): void {
  if (endianness() !== 'LE') throw new UserError('index files are little-endian; this host is big-endian');
}

function bytesOf(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Write `index` to `path` atomically (temporary file, then rename). */
export async function saveIndex(path: string, index: Index): Promise<void> {
  checkHost();
  const { n, dim, graph, entryPoints, storage, entryLayer } = index;
  if (index.vectors.length !== n * dim) throw new Error(`saveIndex: vectors hold ${index.vectors.length} floats, expected n * dim = ${n * dim}`);
  if (graph.n !== n || graph.neighbors.length !== n * graph.degree) throw new Error('saveIndex: graph does not match n');
  const metric = METRIC_CODES.indexOf(index.metric);
  if (metric < 0) throw new Error(`saveIndex: unknown metric ${index.metric}`);
  const bad = checkEntryLayer(entryLayer, n);
  if (bad) throw new Error(`saveIndex: ${bad}`);
  const json = Buffer.from(JSON.stringify(index.buildParams ?? {}), 'utf8');
  const L = layout(n, dim, graph.degree, storage, entryPoints.length, json.length, entryLayer.ids.length, entryLayer.degree);

  const header = Buffer.alloc(HEADER_BYTES);
  header.write(INDEX_MAGIC, 0, 'latin1');
  const fields = [INDEX_VERSION, metric, dim, n, graph.degree, storage === 'f16' ? 1 : 0, entryPoints.length, 0, json.length, entryLayer.ids.length, entryLayer.degree];
  fields.forEach((v, i) => header.writeUInt32LE(v, 8 + 4 * i));

  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const hash = createHash('sha256');
  const fh = await open(tmp, 'w');
  let ok = false;
  try {
    const put = async (b: Buffer): Promise<void> => {
      hash.update(b);
      await fh.write(b);
    };
    await put(header);
    await put(json);
    await put(Buffer.alloc(pad4(json.length) - json.length));
    // Vectors in chunks, so an f16 conversion never doubles a large index in memory.
    const rowsPerChunk = Math.max(1, Math.floor((8 << 20) / (4 * dim)));
    for (let r = 0; r < n; r += rowsPerChunk) {
      const part = index.vectors.subarray(r * dim, Math.min(n, r + rowsPerChunk) * dim);
      await put(storage === 'f16' ? bytesOf(f32ToF16Array(part)) : bytesOf(part));
    }
    await put(Buffer.alloc(pad4(L.vectorBytes) - L.vectorBytes));
    await put(bytesOf(graph.neighbors));
    await put(bytesOf(entryPoints));
    await put(bytesOf(entryLayer.ids));
    await put(bytesOf(entryLayer.neighbors));
    await fh.write(hash.digest());
    await fh.sync();
    ok = true;
  } finally {
    await fh.close();
    if (!ok) await unlink(tmp).catch(() => undefined);
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw new UserError(`${path}: cannot write the index: ${(err as Error).message}`);
  }
}

/** Read and validate an index file. */
export async function loadIndex(path: string): Promise<Index> {
  checkHost();
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    throw new UserError(`${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const fail = (what: string): never => {
    throw new UserError(`${path}: ${what}`);
  };
  if (buf.length < 8 || buf.toString('latin1', 0, 8) !== INDEX_MAGIC) fail('not a crinn index (bad magic)');
  if (buf.length < 12) fail(`truncated: expected at least ${HEADER_BYTES} bytes, file has ${buf.length}`);
  const u32 = (i: number): number => buf.readUInt32LE(8 + 4 * i);
  const version = u32(0);
  if (version !== INDEX_VERSION) {
    fail(version < INDEX_VERSION ? `index version ${version}, this build reads version ${INDEX_VERSION}: rebuild it with crinn build` : `index version ${version} is newer than this build reads (${INDEX_VERSION}): upgrade crinn`);
  }
  if (buf.length < HEADER_BYTES) fail(`truncated: expected at least ${HEADER_BYTES} bytes, file has ${buf.length}`);
  const [metricCode, dim, n, degree, storageCode, entries, , jsonLen, layerNodes, layerDegree] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(u32);
  if (metricCode >= METRIC_CODES.length || storageCode > 1) fail(`corrupted header (metric ${metricCode}, storage ${storageCode})`);
  if (layerNodes < 1 || layerDegree < 1) fail(`corrupted header (entry layer ${layerNodes} nodes x ${layerDegree})`);
  const storage: VectorStorage = storageCode === 1 ? 'f16' : 'f32';
  const L = layout(n, dim, degree, storage, entries, jsonLen, layerNodes, layerDegree);
  if (buf.length !== L.total) {
    fail(buf.length < L.total ? `truncated: expected ${L.total} bytes, file has ${buf.length}` : `corrupted: expected ${L.total} bytes, file has ${buf.length}`);
  }
  const digest = createHash('sha256').update(buf.subarray(0, L.hashAt)).digest();
  if (!digest.equals(buf.subarray(L.hashAt))) fail('corrupted (checksum mismatch)');

  let buildParams: BuildParams;
  try {
    buildParams = JSON.parse(buf.toString('utf8', HEADER_BYTES, HEADER_BYTES + jsonLen)) as BuildParams;
  } catch {
    return fail('corrupted (build params are not JSON)');
  }
  // Copies: a file buffer's offset need not suit typed-array alignment, and the index outlives it.
  const slice = (at: number, bytes: number): ArrayBuffer => buf.buffer.slice(buf.byteOffset + at, buf.byteOffset + at + bytes) as ArrayBuffer;
  const vectors = storage === 'f16' ? f16ToF32Array(new Uint16Array(slice(L.vectorsAt, L.vectorBytes))) : new Float32Array(slice(L.vectorsAt, L.vectorBytes));
  const neighbors = new Uint32Array(slice(L.graphAt, n * degree * 4));
  const entryPoints = new Uint32Array(slice(L.entriesAt, entries * 4));
  const entryLayer: EntryLayer = {
    ids: new Uint32Array(slice(L.layerIdsAt, layerNodes * 4)),
    degree: layerDegree,
    neighbors: new Uint32Array(slice(L.layerEdgesAt, layerNodes * layerDegree * 4)),
  };
  // Ids in range: the GPU reads vectors and rows at these, unchecked.
  for (let i = 0; i < neighbors.length; i++) {
    const v = neighbors[i];
    if (v !== NO_NEIGHBOR && v >= n) fail(`graph: node ${Math.floor(i / degree)} edge ${i % degree} is ${v}, expected < n = ${n}`);
  }
  for (let i = 0; i < entries; i++) if (entryPoints[i] >= n) fail(`entry points: entry ${i} is ${entryPoints[i]}, expected < n = ${n}`);
  const bad = checkEntryLayer(entryLayer, n);
  if (bad) fail(bad);
  return { metric: METRIC_CODES[metricCode], dim, n, storage, vectors, graph: { n, degree, neighbors }, entryPoints, entryLayer, buildParams };
}
