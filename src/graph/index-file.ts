/**
 * The index file, version 3 (all integers little-endian):
 *
 *   offset  size
 *   0       8     magic "CRNNIDX\0"
 *   8       4     version (u32) = 3 (version 2 had no codec section and still loads; version 1 had no entry layer and no fields at 44, 48)
 *   12      4     metric (u32): 0 l2, 1 ip, 2 angular
 *   16      4     dim (u32)
 *   20      4     n (u32)
 *   24      4     degree (u32)
 *   28      4     vector storage (u32): the codec's file code (src/data/codecs/): 0 f32, 1 f16, 2 int8, 3 binary
 *   32      4     numEntryPoints (u32)
 *   36      4     flags (u32): bit 0 = optional sections follow the checksum; other bits 0
 *   40      4     build-params JSON length L (u32)
 *   44      4     entry-layer nodes M (u32, >= 1)
 *   48      4     entry-layer degree E (u32, >= 1)
 *   52      L     build params, UTF-8 JSON, then zero padding to a multiple of 4
 *           ...   vectors, n rows as the codec encodes them (f32, f16; int8 and binary keep f32 rows for the rerank), row-major, zero padding to a multiple of 4
 *           ...   graph, n * degree u32 (0xFFFFFFFF = no neighbour)
 *           ...   entry points, numEntryPoints u32
 *           ...   entry layer: M base ids u32, then M * E local edges u32 (0xFFFFFFFF = none)
 *           8     codec section head: params bytes P, codes bytes C (u32 each, multiples of 4; 0, 0 for f32, f16)
 *           P     codec params (int8: per-dimension offset and scale; binary: rotation and centroid; src/data/codecs/)
 *           C     codes: the packed GPU rows the codec's row loader reads
 *           32    SHA-256 of every byte before it
 *           ...   optional sections (flags bit 0), each: tag (4 ASCII bytes), payload length P (u32,
 *                 a multiple of 4), payload, SHA-256 of tag + length + payload. Readers skip tags
 *                 they do not know. 'LABL' (labels for filtered search): n, total T (u32), n + 1
 *                 offsets, T label ids (u32; src/data/labels.ts). An unlabelled file has none, and
 *                 its bytes are unchanged from before sections existed.
 *
 * Saving streams to a temporary file beside the target and renames it over, so a crash never
 * leaves a partial index. Loading checks magic, version, size, checksum, then that every id is in
 * range (graph edges, entry points, the entry layer), each failure a one-line UserError that names
 * the file and the field: a file with a valid checksum but a bad id would otherwise be searched.
 */
import { createHash } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { endianness } from 'node:os';
import { UserError } from '../errors.ts';
import { assertRegularFile } from '../data/vecs.ts';
import { checkEntryLayer } from './entry-layer.ts';
import { codecFor } from '../data/codecs/registry.ts';
// Layout and decoding live in a Node-free module the browser loader shares.
import { decodeIndex, digestMatches, encodeLabelsSection, FLAG_SECTIONS, HEADER_BYTES, INDEX_MAGIC, INDEX_VERSION, LABELS_TAG, layout, METRIC_CODES, pad4, parseIndexHeader, sectionDigestMatches, type Index } from './index-format.ts';
import { checkLabelSets } from '../data/labels.ts';
import { updateHash } from '../data/hash-bytes.ts';

export { INDEX_MAGIC, INDEX_VERSION, type Index, type VectorStorage } from './index-format.ts';

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
  const badLabels = index.labels && checkLabelSets(index.labels, n);
  if (badLabels) throw new Error(`saveIndex: ${badLabels}`);
  const json = Buffer.from(JSON.stringify(index.buildParams ?? {}), 'utf8');
  const codec = codecFor(storage);
  if (codec.train && !index.codecData) throw new Error(`saveIndex: storage ${storage} needs the index's codec params and codes (buildIndex trains them)`);
  const cd = codec.train ? index.codecData : undefined;
  const sizes = { paramBytes: pad4(cd?.params.byteLength ?? 0), codeBytes: cd?.codes.byteLength ?? 0 };
  const L = layout(n, dim, graph.degree, storage, entryPoints.length, json.length, entryLayer.ids.length, entryLayer.degree, sizes);

  const header = Buffer.alloc(HEADER_BYTES);
  header.write(INDEX_MAGIC, 0, 'latin1');
  const flags = index.labels ? FLAG_SECTIONS : 0;
  const fields = [INDEX_VERSION, metric, dim, n, graph.degree, codec.fileCode, entryPoints.length, flags, json.length, entryLayer.ids.length, entryLayer.degree];
  fields.forEach((v, i) => header.writeUInt32LE(v, 8 + 4 * i));

  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const hash = createHash('sha256');
  const fh = await open(tmp, 'w');
  let ok = false;
  try {
    const put = async (b: Buffer): Promise<void> => {
      updateHash(hash, b);
      await fh.write(b);
    };
    await put(header);
    await put(json);
    await put(Buffer.alloc(pad4(json.length) - json.length));
    // Vectors in chunks, so a codec's conversion never doubles a large index in memory.
    const rowsPerChunk = Math.max(1, Math.floor((8 << 20) / (4 * dim)));
    for (let r = 0; r < n; r += rowsPerChunk) {
      const part = index.vectors.subarray(r * dim, Math.min(n, r + rowsPerChunk) * dim);
      await put(bytesOf(codec.encode(part)));
    }
    await put(Buffer.alloc(pad4(L.vectorBytes) - L.vectorBytes));
    await put(bytesOf(graph.neighbors));
    await put(bytesOf(entryPoints));
    await put(bytesOf(entryLayer.ids));
    await put(bytesOf(entryLayer.neighbors));
    const head = Buffer.alloc(8);
    head.writeUInt32LE(sizes.paramBytes, 0);
    head.writeUInt32LE(sizes.codeBytes, 4);
    await put(head);
    if (cd) {
      await put(bytesOf(cd.params));
      await put(Buffer.alloc(sizes.paramBytes - cd.params.byteLength));
      await put(bytesOf(cd.codes));
    }
    await fh.write(hash.digest());
    if (index.labels) {
      const payload = bytesOf(encodeLabelsSection(index.labels));
      const head = Buffer.alloc(8);
      head.write(LABELS_TAG, 0, 'latin1');
      head.writeUInt32LE(payload.length, 4);
      await fh.write(head);
      await fh.write(payload);
      await fh.write(updateHash(createHash('sha256').update(head), payload).digest());
    }
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

/**
 * The whole file in one Buffer, read in slices: fs.readFile refuses files over 2 GiB, and an f32
 * index of 1M x 768 vectors is 3.3 GB.
 */
async function readWhole(path: string): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const buf = Buffer.allocUnsafe(size);
    for (let o = 0; o < size; ) {
      const { bytesRead } = await fh.read(buf, o, Math.min(1 << 30, size - o), o);
      if (bytesRead === 0) throw new Error(`file ended at ${o} of ${size} bytes`);
      o += bytesRead;
    }
    return buf;
  } finally {
    await fh.close();
  }
}

/** Read and validate an index file. */
export async function loadIndex(path: string): Promise<Index> {
  checkHost();
  let buf: Buffer;
  // A FIFO would block, /dev/zero never end: refused before the read.
  await assertRegularFile(path);
  try {
    buf = await readWhole(path);
  } catch (err) {
    throw new UserError(`${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const fail = (what: string): never => {
    throw new UserError(`${path}: ${what}`);
  };
  const h = parseIndexHeader(buf, fail);
  if (!digestMatches(buf, h, updateHash(createHash('sha256'), buf.subarray(0, h.layout.hashAt)).digest())) fail('corrupted (checksum mismatch)');
  for (const s of h.sections) {
    if (!sectionDigestMatches(buf, s, updateHash(createHash('sha256'), buf.subarray(s.from, s.to)).digest())) fail(`corrupted (section '${s.tag}' checksum mismatch)`);
  }
  return decodeIndex(buf, h, fail);
}
