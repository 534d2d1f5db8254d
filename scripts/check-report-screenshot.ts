/**
 * Renders a bench report (a built-in sample, or the result JSON given as argument), screenshots it
 * in real headless Chromium, and checks that the plot is not blank: the shaded reward window is
 * found, there is ink inside the plot, and at least two distinct curve colours are drawn.
 *
 *   node scripts/check-report-screenshot.ts [result.json]
 *
 * Exit 0 when the plot looks right, 1 with a one-line reason otherwise.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inflateSync } from 'node:zlib';
import { renderReportHtml, SERIES_COLORS, WINDOW_FILL } from '../src/bench/report-html.ts';
import { summarize } from '../src/bench/reward.ts';
import { parseBenchResultText, type BenchResult, type BenchSystem } from '../src/bench/schema.ts';

export const CHROMIUM = '/usr/bin/chromium';

// ---------------------------------------------------------------------------------------------
// Sample result: two curves, an oracle point, and a failed system (must not break the page).

function system(name: string, kind: BenchSystem['kind'], pts: [number, number, number][], error?: string): BenchSystem {
  const points = pts.map(([effort, recall, qps]) => ({ effort, recall, qps, seconds: [200 / qps, 201 / qps, 199 / qps] }));
  return {
    name,
    kind,
    params: { degree: 32 },
    build: { seconds: 3.2, params: { efConstruction: 200 } },
    points,
    summary: summarize(points),
    reachedWindow: points.some((p) => p.recall >= 0.85),
    ...(error ? { error } : {}),
  };
}

export function sampleBenchResult(): BenchResult {
  return {
    schemaVersion: 1,
    createdAt: '2025-01-01T00:00:00.000Z',
    tool: { name: 'crinn-webgpu', version: '0.1.0' },
    machine: { cpus: 2, platform: 'linux', node: 'v22.23.3' },
    dataset: { name: 'synthetic-20k', fingerprint: 'sha256:0123abcd', n: 20000, dim: 128, nq: 200, metric: 'l2', k: 10 },
    adapter: {
      name: 'llvmpipe',
      vendor: 'mesa',
      architecture: 'llvm',
      backend: 'vulkan',
      type: 'cpu',
      description: 'llvmpipe (LLVM 19.1.7, 256 bits)',
      limits: { maxStorageBufferBindingSize: 2147483648, maxComputeWorkgroupStorageSize: 32768 },
      features: ['shader-f16', 'subgroups', 'timestamp-query'],
    },
    systems: [
      system('gpu-beam', 'gpu', [[8, 0.62, 52000], [16, 0.79, 41000], [24, 0.86, 35000], [32, 0.9, 30000], [48, 0.94, 23000], [64, 0.965, 18000], [128, 0.99, 9800]]),
      system('hnswlib-node', 'cpu-peer', [[10, 0.7, 45000], [20, 0.84, 38000], [40, 0.91, 31000], [80, 0.955, 26000], [160, 0.985, 19000]]),
      system('usearch', 'cpu-peer', [], 'optional dependency usearch is not installed'),
      system('brute-force', 'oracle', [[0, 1, 304]]),
    ],
    seeds: { queries: 1 },
    versions: { node: 'v22.23.3', webgpu: '0.6.2' },
    window: { lo: 0.85, hi: 0.95 },
    k: 10,
  };
}

// ---------------------------------------------------------------------------------------------
// Minimal PNG decoder: 8-bit, non-interlaced, greyscale/RGB/palette/with alpha -> RGBA.

export interface Image {
  width: number;
  height: number;
  /** RGBA, row-major. */
  rgba: Uint8Array;
}

const PNG_SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

export function decodePng(buf: Uint8Array): Image {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.length < 8 || PNG_SIGNATURE.some((b, i) => buf[i] !== b)) throw new Error('not a PNG file (bad signature)');
  let width = 0;
  let height = 0;
  let colorType = -1;
  let palette: Uint8Array | null = null;
  let trns: Uint8Array | null = null;
  const idat: Uint8Array[] = [];
  for (let off = 8; off + 8 <= buf.length; ) {
    const len = view.getUint32(off);
    const type = String.fromCharCode(buf[off + 4], buf[off + 5], buf[off + 6], buf[off + 7]);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (data.length !== len) throw new Error(`PNG truncated in chunk ${type}`);
    if (type === 'IHDR') {
      width = view.getUint32(off + 8);
      height = view.getUint32(off + 12);
      const depth = data[8];
      colorType = data[9];
      if (depth !== 8) throw new Error(`PNG bit depth ${depth} not supported (8 only)`);
      if (data[12] !== 0) throw new Error('interlaced PNG not supported');
    } else if (type === 'PLTE') palette = data;
    else if (type === 'tRNS') trns = data;
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    off += 12 + len;
  }
  const channels = ({ 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as Record<number, number>)[colorType];
  if (!channels || width === 0 || height === 0) throw new Error(`PNG colour type ${colorType} or size ${width}x${height} not supported`);
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  if (raw.length < height * (stride + 1)) throw new Error('PNG image data too short');
  const px = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = y * stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? px[row + x - channels] : 0;
      const b = y > 0 ? px[row - stride + x] : 0;
      const c = x >= channels && y > 0 ? px[row - stride + x - channels] : 0;
      const v = src[x];
      let out: number;
      switch (filter) {
        case 0: out = v; break;
        case 1: out = v + a; break;
        case 2: out = v + b; break;
        case 3: out = v + ((a + b) >> 1); break;
        case 4: out = v + paeth(a, b, c); break;
        default: throw new Error(`PNG filter type ${filter} invalid at row ${y}`);
      }
      px[row + x] = out & 255;
    }
  }
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    const s = i * channels;
    let r: number, g: number, b: number, al = 255;
    if (colorType === 3) {
      if (!palette) throw new Error('palette PNG without PLTE chunk');
      const p = px[s];
      r = palette[p * 3]; g = palette[p * 3 + 1]; b = palette[p * 3 + 2];
      if (trns && p < trns.length) al = trns[p];
    } else if (channels <= 2) {
      r = g = b = px[s];
      if (channels === 2) al = px[s + 1];
    } else {
      r = px[s]; g = px[s + 1]; b = px[s + 2];
      if (channels === 4) al = px[s + 3];
    }
    rgba.set([r, g, b, al], i * 4);
  }
  return { width, height, rgba };
}

// ---------------------------------------------------------------------------------------------
// Checks on the screenshot.

function hex(c: string): [number, number, number] {
  return [parseInt(c.slice(1, 3), 16), parseInt(c.slice(3, 5), 16), parseInt(c.slice(5, 7), 16)];
}

function near(img: Image, i: number, [r, g, b]: [number, number, number], tol: number): boolean {
  const o = i * 4;
  return Math.abs(img.rgba[o] - r) <= tol && Math.abs(img.rgba[o + 1] - g) <= tol && Math.abs(img.rgba[o + 2] - b) <= tol;
}

export interface PlotCheck {
  /** Bounding box of the shaded window (page pixels). */
  window: { x0: number; y0: number; x1: number; y1: number };
  inkPixels: number;
  /** Curve colours with at least `minColorPixels` pixels in the plot band. */
  colors: string[];
}

/** Locate the plot by its window shading and count ink and curve colours in that band. */
export function analyseScreenshot(img: Image, minColorPixels = 30): PlotCheck {
  const shade = hex(WINDOW_FILL);
  let x0 = Infinity, y0 = Infinity, x1 = -1, y1 = -1;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      if (near(img, y * img.width + x, shade, 3)) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) throw new Error(`no reward-window shading (${WINDOW_FILL}) in the screenshot: the plot did not render`);
  // The window spans the plot's full height; its rows are the plot band, across the page width.
  const palette = SERIES_COLORS.map(hex);
  const counts = new Array<number>(palette.length).fill(0);
  let ink = 0;
  for (let y = y0; y <= y1; y++) {
    for (let x = 0; x < img.width; x++) {
      const i = y * img.width + x;
      const o = i * 4;
      const white = img.rgba[o] >= 245 && img.rgba[o + 1] >= 245 && img.rgba[o + 2] >= 245;
      if (white || near(img, i, shade, 3)) continue;
      ink++;
      palette.forEach((c, k) => {
        if (near(img, i, c, 12)) counts[k]++;
      });
    }
  }
  const colors = SERIES_COLORS.filter((_, k) => counts[k] >= minColorPixels);
  return { window: { x0, y0, x1, y1 }, inkPixels: ink, colors: [...colors] };
}

// ---------------------------------------------------------------------------------------------
// Chromium.

function runChromium(args: string[], timeoutMs: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    // Own process group, so a hung browser and its helpers can be killed together by our pid.
    const child = spawn(CHROMIUM, args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const timer = setTimeout(() => {
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      reject(new Error(`chromium did not finish within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

export interface ScreenshotResult extends PlotCheck {
  width: number;
  height: number;
}

/**
 * Render `result` (default: the sample) to HTML, screenshot it at 1200x900 and check the plot.
 * Throws with a clear message when Chromium is missing or the plot looks blank.
 */
export async function checkReportScreenshot(result: BenchResult = sampleBenchResult(), opts: { keepDir?: boolean } = {}): Promise<ScreenshotResult> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found; install it with: apt-get install -y --no-install-recommends chromium`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'crinn-report-'));
  try {
    const html = join(dir, 'report.html');
    const png = join(dir, 'shot.png');
    await writeFile(html, renderReportHtml([result]));
    const args = [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--hide-scrollbars', '--force-device-scale-factor=1',
      `--user-data-dir=${join(dir, 'profile')}`, `--screenshot=${png}`, '--window-size=1200,900',
      pathToFileURL(html).href,
    ];
    const run = await runChromium(args, 90_000);
    if (!existsSync(png)) throw new Error(`chromium wrote no screenshot (exit ${run.code}): ${run.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    const img = decodePng(await readFile(png));
    const check = analyseScreenshot(img);
    const area = (check.window.x1 - check.window.x0 + 1) * (check.window.y1 - check.window.y0 + 1);
    if (check.window.y1 - check.window.y0 < 100) throw new Error(`plot band is only ${check.window.y1 - check.window.y0 + 1} px tall; expected the full plot height`);
    if (check.inkPixels < Math.max(500, area * 0.05)) throw new Error(`plot looks blank: ${check.inkPixels} non-white pixels in the plot band`);
    const drawable = result.systems.filter((s) => !s.error && s.points.some((p) => p.qps > 0)).length;
    const want = Math.min(2, drawable);
    if (check.colors.length < want) throw new Error(`expected at least ${want} curve colours in the plot, found ${check.colors.length} (${check.colors.join(', ') || 'none'})`);
    return { width: img.width, height: img.height, ...check };
  } finally {
    if (!opts.keepDir) await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const file = process.argv[2];
  const result = file ? parseBenchResultText(await readFile(file, 'utf8'), file) : sampleBenchResult();
  const r = await checkReportScreenshot(result);
  console.log(`report screenshot ok: ${r.width}x${r.height}, plot band y=${r.window.y0}..${r.window.y1}, ${r.inkPixels} ink pixels, curve colours ${r.colors.join(' ')}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(`check-report-screenshot: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
