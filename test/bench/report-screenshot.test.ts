import { existsSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { analyseScreenshot, checkReportScreenshot, CHROMIUM, decodePng } from '../../scripts/check-report-screenshot.ts';

/** A tiny PNG encoder for the decoder test: RGB rows with the given filter bytes. */
function crc32(buf: Uint8Array): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}
function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}
function encodeRgb(width: number, height: number, rows: Uint8Array[]): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.concat(rows))), chunk('IEND', new Uint8Array(0))]);
}

describe('decodePng', () => {
  it('unfilters None, Sub, Up, Average and Paeth rows', () => {
    // 2x5 RGB image; pixel (x, y) = [10x + y, 20, 30 + y]; filtered by hand.
    const px = (x: number, y: number) => [10 * x + y, 20, 30 + y];
    const raw = (y: number) => [...px(0, y), ...px(1, y)];
    const rows: Uint8Array[] = [];
    rows.push(Uint8Array.from([0, ...raw(0)]));
    // Sub: each byte minus the byte 3 to the left.
    const r1 = raw(1);
    rows.push(Uint8Array.from([1, ...r1.map((v, i) => (v - (i >= 3 ? r1[i - 3] : 0)) & 255)]));
    // Up: minus the byte above.
    const r2 = raw(2);
    rows.push(Uint8Array.from([2, ...r2.map((v, i) => (v - r1[i]) & 255)]));
    // Average: minus floor((left + up) / 2).
    const r3 = raw(3);
    rows.push(Uint8Array.from([3, ...r3.map((v, i) => (v - (((i >= 3 ? r3[i - 3] : 0) + r2[i]) >> 1)) & 255)]));
    // Paeth.
    const r4 = raw(4);
    const paeth = (a: number, b: number, c: number) => {
      const p = a + b - c;
      const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
      return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    };
    rows.push(Uint8Array.from([4, ...r4.map((v, i) => (v - paeth(i >= 3 ? r4[i - 3] : 0, r3[i], i >= 3 ? r3[i - 3] : 0)) & 255)]));
    const img = decodePng(encodeRgb(2, 5, rows));
    expect(img.width).toBe(2);
    expect(img.height).toBe(5);
    for (let y = 0; y < 5; y++) {
      for (let x = 0; x < 2; x++) expect(Array.from(img.rgba.subarray((y * 2 + x) * 4, (y * 2 + x) * 4 + 4))).toEqual([...px(x, y), 255]);
    }
  });

  it('rejects non-PNG input', () => {
    expect(() => decodePng(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]))).toThrow(/not a PNG/);
  });

  it('analyseScreenshot fails clearly on a blank page', () => {
    const blank = { width: 10, height: 10, rgba: new Uint8Array(400).fill(255) };
    expect(() => analyseScreenshot(blank)).toThrow(/no reward-window shading/);
  });
});

describe.skipIf(!existsSync(CHROMIUM))('report screenshot in headless Chromium', () => {
  it('draws the window and at least two curves', async () => {
    const r = await checkReportScreenshot();
    expect(r.width).toBe(1200);
    expect(r.colors.length).toBeGreaterThanOrEqual(2);
    expect(r.window.y1 - r.window.y0).toBeGreaterThan(300);
  });
});
