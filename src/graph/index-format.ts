/**
 * The index file's layout and decoding, without Node APIs: shared by index-file.ts (Node, which
 * adds the file I/O and the SHA-256 check) and src/browser/ (fetched bytes, WebCrypto digest).
 * The format itself is documented in index-file.ts.
 */
import type { Metric } from '../data/types.ts';
import { NO_NEIGHBOR, type Graph } from './graph.ts';
import { checkEntryLayer, type EntryLayer } from './entry-layer.ts';
import type { BuildParams } from './params.ts';
import { codecFor, codecOfFileCode, searchRowBytes, type CodecData, type VectorStorage } from '../data/codecs/registry.ts';
import { checkLabelSets, type LabelSets } from '../data/labels.ts';

export const INDEX_MAGIC = 'CRNNIDX\0';
export const INDEX_VERSION = 3;
/** Versions this build reads: 2 (no codec section) and 3. */
export const INDEX_VERSIONS_READ: readonly number[] = [2, 3];
export const HEADER_BYTES = 52;
export const HASH_BYTES = 32;
export const METRIC_CODES: readonly Metric[] = ['l2', 'ip', 'angular'];
/** Header flags bit 0: optional sections follow the checksum (index-file.ts). */
export const FLAG_SECTIONS = 1;
/** The labels section's tag. */
export const LABELS_TAG = 'LABL';
/** An optional section's framing: tag (4 bytes) and payload length (u32) before it, its SHA-256 after. */
export const SECTION_HEAD_BYTES = 8;

/** One optional section: its tag, where its payload lies, and the range its own SHA-256 covers. */
export interface IndexSection {
  tag: string;
  /** Payload offset and length in the file. */
  at: number;
  bytes: number;
  /** The range [from, to) its digest covers (tag, length, payload); the digest is at `to`. */
  from: number;
  to: number;
}

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
  /** A trained codec's params and codes (int8, binary: the codec section); absent for f32 and f16. */
  codecData?: CodecData;
  /** Labels per vector for filtered search (an optional section; absent in unlabelled files). */
  labels?: LabelSets;
}

/** x rounded up to a multiple of 4; arithmetic, not `& ~3`, which wraps past 2^31 (a 1M x 768 f32 section is 3 GB). */
export const pad4 = (x: number): number => Math.ceil(x / 4) * 4;

/**
 * Bytes per base vector of each part of an index as stored (file) and uploaded (GPU, where rows pad
 * to whole 16-byte groups): the rows in the index's codec, the graph, and the entry layer (its ids
 * and rows spread over n), plus their total. What 1M vectors cost is n times these.
 */
export function indexBytesPerVector(index: Pick<Index, 'n' | 'dim' | 'storage' | 'graph' | 'entryLayer' | 'entryPoints' | 'codecData'>): { base: number; codes: number; graph: number; entryLayer: number; total: number } {
  const n = Math.max(1, index.n);
  // The rows the index file stores (f32 for int8 / binary: the rerank's) ...
  const base = codecFor(index.storage).fileRowBytes(index.dim);
  // ... and a trained codec's codes the beam search reads, with its params shared out.
  const codes = index.codecData ? (index.codecData.codes.byteLength + index.codecData.params.byteLength) / n : 0;
  const graph = index.graph.degree * 4;
  const entryLayer = ((index.entryLayer.ids.length + index.entryLayer.neighbors.length + index.entryPoints.length) * 4) / n;
  return { base, codes, graph, entryLayer, total: base + codes + graph + entryLayer };
}

/**
 * Section offsets. `codec`: version 3's codec section sizes (params and codes bytes, each a
 * multiple of 4), read from its 8-byte head; undefined for version 2, which has no such section.
 */
export function layout(n: number, dim: number, degree: number, storage: VectorStorage, entries: number, jsonBytes: number, layerNodes: number, layerDegree: number, codec?: { paramBytes: number; codeBytes: number }) {
  const vectorsAt = HEADER_BYTES + pad4(jsonBytes);
  const vectorBytes = n * codecFor(storage).fileRowBytes(dim);
  const graphAt = vectorsAt + pad4(vectorBytes);
  const entriesAt = graphAt + n * degree * 4;
  const layerIdsAt = entriesAt + entries * 4;
  const layerEdgesAt = layerIdsAt + layerNodes * 4;
  const codecAt = layerEdgesAt + layerNodes * layerDegree * 4;
  const paramsAt = codecAt + (codec ? CODEC_HEAD_BYTES : 0);
  const codesAt = paramsAt + (codec?.paramBytes ?? 0);
  const hashAt = codesAt + (codec?.codeBytes ?? 0);
  return { vectorsAt, vectorBytes, graphAt, entriesAt, layerIdsAt, layerEdgesAt, codecAt, paramsAt, codesAt, hashAt, total: hashAt + HASH_BYTES };
}

/** Bytes `saveIndex` writes for this index (the file's size). */
export function indexFileBytes(index: Index): number {
  const json = new TextEncoder().encode(JSON.stringify(index.buildParams ?? {})).length;
  const cd = index.codecData;
  return layout(index.n, index.dim, index.graph.degree, index.storage, index.entryPoints.length, json, index.entryLayer.ids.length, index.entryLayer.degree, { paramBytes: pad4(cd?.params.byteLength ?? 0), codeBytes: cd?.codes.byteLength ?? 0 }).total;
}

/** The codec section's head: params bytes P, codes bytes C (u32 each), then P + C bytes. */
export const CODEC_HEAD_BYTES = 8;

export interface IndexHeader {
  version: number;
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
  /** Optional sections after the checksum (flags bit 0), in file order. */
  sections: IndexSection[];
}

/** Magic, version, header fields and total size; `fail` throws (a UserError naming the file in Node). */
export function parseIndexHeader(buf: Uint8Array, fail: (what: string) => never): IndexHeader {
  const magic = String.fromCharCode(...buf.subarray(0, 8));
  if (buf.length < 8 || magic !== INDEX_MAGIC) fail('not a crinn index (bad magic)');
  if (buf.length < 12) fail(`truncated: expected at least ${HEADER_BYTES} bytes, file has ${buf.length}`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const u32 = (i: number): number => view.getUint32(8 + 4 * i, true);
  const version = u32(0);
  if (!INDEX_VERSIONS_READ.includes(version)) {
    fail(version < INDEX_VERSION ? `index version ${version}, this build reads versions ${INDEX_VERSIONS_READ.join(', ')}: rebuild it with crinn build` : `index version ${version} is newer than this build reads (${INDEX_VERSION}): upgrade crinn`);
  }
  if (buf.length < HEADER_BYTES) fail(`truncated: expected at least ${HEADER_BYTES} bytes, file has ${buf.length}`);
  const [metricCode, dim, n, degree, storageCode, entries, flags, jsonLen, layerNodes, layerDegree] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(u32);
  if ((flags & ~FLAG_SECTIONS) !== 0) fail(`unknown header flags 0x${flags.toString(16)} (this build knows bit 0, optional sections): upgrade crinn`);
  const codec = codecOfFileCode(storageCode);
  if (metricCode >= METRIC_CODES.length || !codec) fail(`corrupted header (metric ${metricCode}, storage ${storageCode})`);
  if (layerNodes < 1 || layerDegree < 1) fail(`corrupted header (entry layer ${layerNodes} nodes x ${layerDegree})`);
  const storage = codec!.name;
  let sizes: { paramBytes: number; codeBytes: number } | undefined;
  if (version >= 3) {
    const at = layout(n, dim, degree, storage, entries, jsonLen, layerNodes, layerDegree).codecAt;
    if (buf.length < at + CODEC_HEAD_BYTES) fail(`truncated: expected at least ${at + CODEC_HEAD_BYTES} bytes, file has ${buf.length}`);
    sizes = { paramBytes: view.getUint32(at, true), codeBytes: view.getUint32(at + 4, true) };
    if (sizes.paramBytes % 4 || sizes.codeBytes % 4) fail(`corrupted codec section (params ${sizes.paramBytes} bytes, codes ${sizes.codeBytes} bytes: not multiples of 4)`);
    if (!codec!.train && sizes.paramBytes + sizes.codeBytes > 0) fail(`corrupted codec section (storage ${storage} has no codec params, the file holds ${sizes.paramBytes + sizes.codeBytes} bytes)`);
  }
  if (codec!.train && !sizes?.codeBytes) fail(`storage ${storage} needs a codec section with its params and codes (index version ${version})`);
  if (codec!.train && sizes!.codeBytes !== n * searchRowBytes(codec!, dim)) fail(`corrupted codec section (codes ${sizes!.codeBytes} bytes, expected ${n} rows of ${searchRowBytes(codec!, dim)})`);
  const L = layout(n, dim, degree, storage, entries, jsonLen, layerNodes, layerDegree, sizes);
  const sections: IndexSection[] = [];
  if ((flags & FLAG_SECTIONS) === 0 ? buf.length !== L.total : buf.length < L.total) {
    fail(buf.length < L.total ? `truncated: expected ${L.total} bytes, file has ${buf.length}` : `corrupted: expected ${L.total} bytes, file has ${buf.length}`);
  }
  // Sections: tag, u32 payload length (a multiple of 4), payload, SHA-256 of those; until the end.
  for (let at = L.total; at < buf.length; ) {
    if (buf.length - at < SECTION_HEAD_BYTES + HASH_BYTES) fail(`truncated: a section at byte ${at} needs ${SECTION_HEAD_BYTES + HASH_BYTES} bytes, ${buf.length - at} remain`);
    const tag = String.fromCharCode(...buf.subarray(at, at + 4));
    const bytes = view.getUint32(at + 4, true);
    const to = at + SECTION_HEAD_BYTES + bytes;
    if (bytes % 4 !== 0 || to + HASH_BYTES > buf.length) fail(`corrupted: section '${tag}' at byte ${at} claims ${bytes} bytes, ${buf.length - at - SECTION_HEAD_BYTES - HASH_BYTES} remain`);
    sections.push({ tag, at: at + SECTION_HEAD_BYTES, bytes, from: at, to });
    at = to + HASH_BYTES;
  }
  if ((flags & FLAG_SECTIONS) !== 0 && sections.length === 0) fail('corrupted: header flags say sections follow, none do');
  return { version, metricCode, dim, n, degree, storage, entries, jsonLen, layerNodes, layerDegree, layout: L, sections };
}

/** The stored SHA-256 (the last 32 bytes) equals `digest` of every byte before it. */
export function digestMatches(buf: Uint8Array, h: IndexHeader, digest: Uint8Array): boolean {
  const stored = buf.subarray(h.layout.hashAt, h.layout.hashAt + HASH_BYTES);
  return digest.length === HASH_BYTES && stored.every((b, i) => b === digest[i]);
}

/** A section's stored SHA-256 equals `digest` of its tag, length and payload. */
export function sectionDigestMatches(buf: Uint8Array, s: IndexSection, digest: Uint8Array): boolean {
  const stored = buf.subarray(s.to, s.to + HASH_BYTES);
  return digest.length === HASH_BYTES && stored.every((b, i) => b === digest[i]);
}

/** The labels section's payload: n, total, then n + 1 offsets and the ids (labels.ts LabelSets). */
export function encodeLabelsSection(l: LabelSets): Uint32Array {
  const out = new Uint32Array(2 + l.offsets.length + l.ids.length);
  out[0] = l.n;
  out[1] = l.ids.length;
  out.set(l.offsets, 2);
  out.set(l.ids, 2 + l.offsets.length);
  return out;
}

function decodeLabelsSection(words: Uint32Array, n: number, fail: (what: string) => never): LabelSets {
  if (words.length < 2 || words[0] !== n || words.length !== 2 + n + 1 + words[1]) fail(`labels section: ${words.length} words for ${words[0]} rows and ${words[1]} labels, expected n = ${n} rows`);
  const labels = { n, offsets: words.slice(2, 3 + n), ids: words.slice(3 + n) };
  const bad = checkLabelSets(labels, n);
  if (bad) fail(`labels section: ${bad}`);
  return labels;
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
  const codesBytes = L.hashAt - L.codesAt;
  const codecData = codesBytes > 0 ? { params: new Uint8Array(slice(L.paramsAt, L.codesAt - L.paramsAt)), codes: new Uint32Array(slice(L.codesAt, codesBytes)) } : undefined;
  // Optional sections (checksums already checked): unknown tags are skipped, so later ones never break this reader.
  const labelsAt = h.sections.find((s) => s.tag === LABELS_TAG);
  const labels = labelsAt ? decodeLabelsSection(new Uint32Array(slice(labelsAt.at, labelsAt.bytes)), n, fail) : undefined;
  return { metric: METRIC_CODES[h.metricCode], dim, n, storage, vectors, graph: { n, degree, neighbors }, entryPoints, entryLayer, buildParams, ...(codecData ? { codecData } : {}), ...(labels ? { labels } : {}) };
}
