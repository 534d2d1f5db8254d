/** The sandbox wire format and output capture, fed hostile bytes. */
import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame, FrameReader, WireError } from '../../src/evolve/sandbox-wire.ts';
import { OutputTap } from '../../src/evolve/sandbox-output.ts';

const one = (frame: Buffer) => {
  const frames = new FrameReader(1 << 20).push(frame);
  expect(frames).toHaveLength(1);
  return decodeFrame(frames[0]);
};

/** A frame with a hand-written JSON header and binary section. */
function rawFrame(json: string, bin = Buffer.alloc(0)): Buffer {
  const head = Buffer.from(json);
  const pad = (8 - ((8 + head.length) % 8)) % 8;
  const body = Buffer.concat([Buffer.alloc(4), head, Buffer.alloc(pad), bin]);
  body.writeUInt32LE(head.length, 0);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(body.length, 0);
  return Buffer.concat([len, body]);
}

describe('sandbox wire format', () => {
  it('round-trips typed arrays of every kind inside nested values, at odd offsets', () => {
    const f32 = new Float32Array([1.5, -2, 3e-8]);
    const src = new Uint8Array(64);
    const i32 = new Int32Array(src.buffer, 4, 3).fill(-7);
    const u8 = new Uint8Array([1, 2, 3]); // 3 bytes: the next array must still land aligned
    const msg = { op: 'search', a: [f32, { ids: i32 }], u8, f64: new Float64Array([Math.PI]), n: null, s: 'x' };
    expect(one(encodeFrame(msg))).toEqual(msg);
  });

  it('reassembles frames split byte by byte and several frames in one chunk', () => {
    const a = encodeFrame({ i: 1, v: new Float32Array([1, 2]) });
    const b = encodeFrame({ i: 2 });
    const r = new FrameReader(1 << 20);
    const got: unknown[] = [];
    const all = Buffer.concat([a, b, a]);
    for (let i = 0; i < all.length; i++) for (const f of r.push(all.subarray(i, i + 1))) got.push(decodeFrame(f));
    expect(got).toEqual([{ i: 1, v: new Float32Array([1, 2]) }, { i: 2 }, { i: 1, v: new Float32Array([1, 2]) }]);
    expect(r.pending).toBe(0);
  });

  it('refuses a frame longer than the limit as soon as its length arrives', () => {
    const r = new FrameReader(1000);
    expect(() => r.push(Buffer.from([0xe9, 0x03, 0, 0]))).toThrow(/1001 bytes exceeds the 1000-byte limit/);
  });

  it('rejects typed-array references that overrun, misalign or name unknown types', () => {
    const bin = Buffer.alloc(16);
    expect(() => one(rawFrame('{"x":{"$ta":"Float32Array","o":8,"n":3}}', bin))).toThrow(WireError);
    expect(() => one(rawFrame('{"x":{"$ta":"Float32Array","o":4,"n":1}}', bin))).toThrow(/bad Float32Array reference/);
    expect(() => one(rawFrame('{"x":{"$ta":"Float32Array","o":-8,"n":1}}', bin))).toThrow(WireError);
    expect(() => one(rawFrame('{"x":{"$ta":"Function","o":0,"n":1}}', bin))).toThrow(/unknown typed array type/);
    expect(() => one(rawFrame('{"x":{"$ta":"constructor","o":0,"n":1}}', bin))).toThrow(/unknown typed array type/);
    expect(one(rawFrame('{"x":{"$ta":"Int32Array","o":8,"n":2}}', bin))).toEqual({ x: new Int32Array(2) });
  });

  it('rejects malformed JSON, a JSON length past the frame, and nesting deep enough to overflow the stack', () => {
    expect(() => one(rawFrame('{"a":'))).toThrow(/does not parse/);
    const bad = rawFrame('{}');
    bad.writeUInt32LE(999, 4);
    expect(() => one(bad)).toThrow(/overruns/);
    expect(() => one(rawFrame('['.repeat(200_000) + ']'.repeat(200_000)))).toThrow(WireError);
  });

  it('keeps __proto__ a plain key (no prototype pollution from a reply)', () => {
    const v = one(rawFrame('{"__proto__":{"polluted":true},"a":{"__proto__":{"x":1}}}')) as Record<string, unknown>;
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
  });
});

describe('bounded output capture', () => {
  it('keeps the head and the tail, counts the rest, and marks the gap', () => {
    const t = new OutputTap(8);
    t.push(Buffer.from('HEADHEAD'));
    for (let i = 0; i < 1000; i++) t.push(Buffer.from('middle-'));
    t.push(Buffer.from('TAILTAIL'));
    expect(t.total).toBe(16 + 7000);
    expect(t.truncated).toBe(true);
    expect(t.text()).toBe('HEADHEAD\n[... 7000 bytes dropped ...]\nTAILTAIL');
  });

  it('is exact and unflagged while everything fits', () => {
    const t = new OutputTap(8);
    t.push(Buffer.from('abcdefghij'));
    expect(t.truncated).toBe(false);
    expect(t.text()).toBe('abcdefghij');
  });
});
