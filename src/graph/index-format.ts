/**
 * The index file's layout and decoding, without Node APIs: shared by index-file.ts (Node, which
 * adds the file I/O and the SHA-256 check) and src/browser/ (fetched bytes, WebCrypto digest).
 * The format itself is documented in index-file.ts.
 */
import type { Metric } from '../data/types.ts';
import { NO_NEIGHBOR, type Graph } from './graph.ts';
import { checkEntryLayer, type EntryLayer } from './entry-layer.ts';
import type { BuildParams } from './params.ts';
import { codecFor, codecOfFileCode, type VectorStorage } from '../data/codecs/registry.ts';

export const INDEX_MAGIC = 'CRNNIDX\0';
export const INDEX_VERSION = 2;
export const HEADER_BYTES = 52;
export const HASH_BYTES = 32;
export const METRIC_CODES: readonly Metric[] = ['l2', 'ip', 'angular'];

export type { VectorStorage } from '../data/codecs/registry.ts';

export interface Index {
  metric: Metric;
  dim: number;
  n: number;
  /** The codec the file stores the vectors with (and the GPU uploads them with): src/data/codecs/. */
  storage: VectorStorage;
  /** Always f32 in memory: the values as the codec stores them (f16 storage: the f16-rounded values). */
  vectors: Float32Array;
  graph: Graph;
  entryPoints: Uint32Array;
  /** The sampled upper graph the search starts in. */
  entryLayer: EntryLayer;
  /** The parameters the graph was built with, as recorded. */
  buildParams: BuildParams;
}

export const pad4 = (x: number): number => (x + 3) & ~3;

/**
 * Bytes per base vector of each part of an index as stored (file) and uploaded (GPU, where rows pad
 * to whole 16-byte groups): the rows in the index's codec, the graph, and the entry layer (its ids
 * and rows spread over n), plus their total. What 1M vectors cost is n times these.
 */
export function indexBytesPerVector(index: Pick<Index, 'n' | 'dim' | 'storage' | 'graph' | 'entryLayer' | 'entryPoints'>): { base: number; graph: number; entryLayer: number; total: number } {
  const n = Math.max(1, index.n);
  const base = codecFor(index.storage).fileRowBytes(index.dim);
  const graph = index.graph.degree * 4;
  const entryLayer = ((index.entryLayer.ids.length + index.entryLayer.neighbors.length + index.entryPoints.length) * 4) / n;
  return { base, graph, entryLayer, total: base + graph + entryLayer };
}

export function layout(n: number, dim: number, degree: number, storage: VectorStorage, entries: number, jsonBytes: number, layerNodes: number, layerDegree: number) {
  const vectorsAt = HEADER_BYTES + pad4(jsonBytes);
  const vectorBytes = n * codecFor(storage).fileRowBytes(dim);
  const graphAt = vectorsAt + pad4(vectorBytes);
  const entriesAt = graphAt + n * degree * 4;
  const layerIdsAt = entriesAt + entries * 4;
  const layerEdgesAt = layerIdsAt + layerNodes * 4;
  const hashAt = layerEdgesAt + layerNodes * layerDegree * 4;
  return { vectorsAt, vectorBytes, graphAt, entriesAt, layerIdsAt, layerEdgesAt, hashAt, total: hashAt + HASH_BYTES };
}

export interface IndexHeader {
  metricCode: number;
  dim: number;
  n: number;
  degree: number;
  storage: VectorStorage;
  entries: number;
  jsonLen: number;
  layerNodes: number;
  layerDegree: number;
  layout: ReturnType<typeof layout>;
}

/** Magic, version, header fields and total size; `fail` throws (a UserError naming the file in Node). */
export function parseIndexHeader(buf: Uint8Array, fail: (what: string) => never): IndexHeader {
  const magic = String.fromCharCode(...buf.subarray(0, 8));
  if (buf.length < 8 || magic !== INDEX_MAGIC) fail('not a crinn index (bad magic)');
  if (buf.length < 12) fail(`truncated: expected at least ${HEADER_BYTES} bytes, file has ${buf.length}`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const u32 = (i: number): number => view.getUint32(8 + 4 * i, true);
  const version = u32(0);
  if (version !== INDEX_VERSION) {
    fail(version < INDEX_VERSION ? `index version ${version}, this build reads version ${INDEX_VERSION}: rebuild it with crinn build` : `index version ${version} is newer than this build reads (${INDEX_VERSION}): upgrade crinn`);
  }
  if (buf.length < HEADER_BYTES) fail(`truncated: expected at least ${HEADER_BYTES} bytes, file has ${buf.length}`);
  const [metricCode, dim, n, degree, storageCode, entries, , jsonLen, layerNodes, layerDegree] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(u32);
  const codec = codecOfFileCode(storageCode);
  if (metricCode >= METRIC_CODES.length || !codec) fail(`corrupted header (metric ${metricCode}, storage ${storageCode})`);
  if (layerNodes < 1 || layerDegree < 1) fail(`corrupted header (entry layer ${layerNodes} nodes x ${layerDegree})`);
  const storage = codec!.name;
  const L = layout(n, dim, degree, storage, entries, jsonLen, layerNodes, layerDegree);
  if (buf.length !== L.total) {
    fail(buf.length < L.total ? `truncated: expected ${L.total} bytes, file has ${buf.length}` : `corrupted: expected ${L.total} bytes, file has ${buf.length}`);
  }
  return { metricCode, dim, n, degree, storage, entries, jsonLen, layerNodes, layerDegree, layout: L };
}

/** The stored SHA-256 (the last 32 bytes) equals `digest` of every byte before it. */
export function digestMatches(buf: Uint8Array, h: IndexHeader, digest: Uint8Array): boolean {
  const stored = buf.subarray(h.layout.hashAt, h.layout.hashAt + HASH_BYTES);
  return digest.length === HASH_BYTES && stored.every((b, i) => b === digest[i]);
}

/** Decodes the sections after the checksum passed, then checks every id is in range. */
export function decodeIndex(buf: Uint8Array, h: IndexHeader, fail: (what: string) => never): Index {
  const { n, dim, degree, storage, entries, jsonLen, layerNodes, layerDegree, layout: L } = h;
  let buildParams: BuildParams;
  try {
    buildParams = JSON.parse(new TextDecoder().decode(buf.subarray(HEADER_BYTES, HEADER_BYTES + jsonLen))) as BuildParams;
  } catch {
    return fail('corrupted (build params are not JSON)');
  }
  // Copies: a file buffer's offset need not suit typed-array alignment, and the index outlives it.
  const slice = (at: number, bytes: number): ArrayBuffer => buf.buffer.slice(buf.byteOffset + at, buf.byteOffset + at + bytes) as ArrayBuffer;
  const vectors = codecFor(storage).decode(slice(L.vectorsAt, L.vectorBytes));
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
  return { metric: METRIC_CODES[h.metricCode], dim, n, storage, vectors, graph: { n, degree, neighbors }, entryPoints, entryLayer, buildParams };
}
