/**
 * The sandbox's wire format: length-prefixed frames on one socket (fd 3), each a JSON header
 * followed by a binary section that carries typed arrays raw (no base64: a 100x128 f32 batch is
 * 51 KiB of copying, not 68 KiB of text). Frames from the child are hostile input: every length,
 * offset and type is checked and any violation is a `WireError`, never a crash of the parent.
 *
 * Frame: u32 LE body length | u32 LE JSON length | JSON (UTF-8) | zero pad to 8 | binary.
 * A typed array inside a value is written as `{"$ta": "Float32Array", "o": offset, "n": length}`.
 */

export class WireError extends Error {
  override name = 'WireError';
}

const ARRAY_TYPES = {
  Float32Array,
  Float64Array,
  Int32Array,
  Uint32Array,
  Uint8Array,
  Uint16Array,
  Int16Array,
  Int8Array,
} as const;
type ArrayTypeName = keyof typeof ARRAY_TYPES;
type AnyTypedArray = InstanceType<(typeof ARRAY_TYPES)[ArrayTypeName]>;

const HEADER = 8;
const align8 = (n: number) => (n + 7) & ~7;

function typeName(v: ArrayBufferView): ArrayTypeName | undefined {
  const name = v.constructor?.name;
  return name && name in ARRAY_TYPES ? (name as ArrayTypeName) : undefined;
}

/** Encodes one message; typed arrays anywhere inside it travel in the binary section. */
export function encodeFrame(message: unknown): Buffer {
  const blobs: ArrayBufferView[] = [];
  let binBytes = 0;
  const json = JSON.stringify(message, (_key, value) => {
    if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
      const type = typeName(value);
      if (!type) throw new WireError(`cannot send a ${value.constructor?.name ?? 'typed array'}`);
      const ref = { $ta: type, o: binBytes, n: (value as AnyTypedArray).length };
      blobs.push(value);
      binBytes = align8(binBytes + value.byteLength);
      return ref;
    }
    return value;
  });
  if (json === undefined) throw new WireError('cannot send undefined');
  const head = Buffer.from(json, 'utf8');
  const binStart = align8(HEADER + head.length);
  const frame = Buffer.alloc(binStart + binBytes);
  frame.writeUInt32LE(frame.length - 4, 0);
  frame.writeUInt32LE(head.length, 4);
  head.copy(frame, HEADER);
  let o = binStart;
  for (const b of blobs) {
    frame.set(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), o);
    o = align8(o + b.byteLength);
  }
  return frame;
}

/** Decodes one whole frame (length prefix included, as `FrameReader` yields it), copying typed arrays out. */
export function decodeFrame(frame: Buffer): unknown {
  if (frame.length < HEADER) throw new WireError(`frame of ${frame.length} bytes is shorter than its header`);
  const jsonLen = frame.readUInt32LE(4);
  if (HEADER + jsonLen > frame.length) throw new WireError(`JSON length ${jsonLen} overruns the ${frame.length}-byte frame`);
  const binStart = align8(HEADER + jsonLen);
  const bin = frame.subarray(Math.min(binStart, frame.length));
  let parsed: unknown;
  try {
    parsed = JSON.parse(frame.toString('utf8', HEADER, HEADER + jsonLen));
  } catch (err) {
    throw new WireError(`frame JSON does not parse: ${(err as Error).message}`);
  }
  try {
    return revive(parsed, bin);
  } catch (err) {
    if (err instanceof WireError) throw err;
    throw new WireError(`frame does not decode: ${(err as Error).message}`); // e.g. nesting too deep
  }
}

/** Replaces typed-array references in place (own keys only, so `__proto__` stays a plain key). */
function revive(v: unknown, bin: Buffer): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (!Array.isArray(v) && '$ta' in v) return readArray(v as Record<string, unknown>, bin);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const x = o[k];
    if (x !== null && typeof x === 'object') o[k] = revive(x, bin);
  }
  return v;
}

function readArray(ref: Record<string, unknown>, bin: Buffer): AnyTypedArray {
  const { $ta: type, o, n } = ref;
  if (typeof type !== 'string' || !Object.hasOwn(ARRAY_TYPES, type)) throw new WireError(`unknown typed array type ${JSON.stringify(type)}`);
  const Ctor = ARRAY_TYPES[type as ArrayTypeName];
  if (!Number.isSafeInteger(o) || !Number.isSafeInteger(n) || (o as number) < 0 || (n as number) < 0 || (o as number) % 8 !== 0) {
    throw new WireError(`bad ${type} reference (offset ${String(o)}, length ${String(n)})`);
  }
  const bytes = (n as number) * Ctor.BYTES_PER_ELEMENT;
  if ((o as number) + bytes > bin.length) throw new WireError(`${type} of ${n} elements at ${o} overruns the ${bin.length}-byte binary section`);
  const out = new Ctor(n as number);
  new Uint8Array(out.buffer).set(bin.subarray(o as number, (o as number) + bytes));
  return out;
}

/**
 * Cuts a byte stream into frames. A frame longer than `maxFrameBytes` is refused as soon as its
 * header arrives, before any of it is buffered.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private have = 0;
  private readonly maxFrameBytes: number;

  constructor(maxFrameBytes: number) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Adds bytes; returns the frames (whole, header included) completed by them. */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.have += chunk.length;
    const out: Buffer[] = [];
    for (;;) {
      if (this.have < 4) return out;
      const head = this.chunks[0].length >= 4 ? this.chunks[0] : this.flatten();
      const need = 4 + head.readUInt32LE(0);
      if (need - 4 > this.maxFrameBytes) throw new WireError(`frame of ${need - 4} bytes exceeds the ${this.maxFrameBytes}-byte limit`);
      if (this.have < need) return out;
      const all = this.flatten();
      out.push(all.subarray(0, need));
      this.chunks = all.length > need ? [Buffer.from(all.subarray(need))] : [];
      this.have -= need;
    }
  }

  /** Bytes received that do not yet form a whole frame. */
  get pending(): number {
    return this.have;
  }

  private flatten(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.have)];
    return this.chunks[0];
  }
}
