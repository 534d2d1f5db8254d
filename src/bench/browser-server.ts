/**
 * The loopback server behind the browser page: serves the page, the crinn-browser module (the
 * TypeScript sources with types stripped, or the built dist/ JavaScript), the index bytes, queries,
 * ground truth and two kernel bundles (the chosen one and the shipped baseline), and takes what the
 * page posts back (adapter, results, failures). In drive mode it hands the page search commands.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.ts';
import { assertRegularFileSync } from '../data/vecs.ts';
import { renderSearchPageHtml } from '../browser/page.ts';
import { CSS } from './report-html.ts';
import { BUNDLE_FORMAT } from '../bundle/bundle-id.ts';
import { loadKernelBundle } from '../search/bundle.ts';
import { searchKernelFiles } from '../search/beam-core.ts';

const PKG_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHADER_DIR = join(PKG_ROOT, 'shaders');
/** The kernels the search runs, in bundle form: the baseline bundle is these files from shaders/. */
export const BASELINE_FILES = Object.values(searchKernelFiles());

export interface BrowserAdapter {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  limits: Record<string, number>;
  features: string[];
  userAgent: string;
}

export interface PageRow {
  effort: number;
  recall: number;
  qps: number;
  seconds: number[];
  ids: number[];
}

export interface PageMeta {
  dataset: string;
  n: number;
  dim: number;
  nq: number;
  metric: string;
  k: number;
  /** Ground-truth ids per query in gt.bin. */
  gtK: number;
  efforts: number[];
  reps: number;
  bundleName: string;
}

export interface ServeOptions {
  indexBytes: Uint8Array;
  queries: Float32Array;
  /** nq * meta.gtK ground-truth ids. */
  groundTruth: Int32Array;
  meta: Omit<PageMeta, 'bundleName'>;
  /** A bundle folder (manifest.json naming WGSL files); absent: the baseline. */
  bundleDir?: string;
}

/** A bundle folder as the server serves it: manifest text plus the files it may hand out. */
export interface BundleFolder {
  name: string;
  dir: string;
  manifest: string;
  /** An exported bundle's knob values by module, as the library reads them (params.json); {} for a plain one. */
  knobs: Record<string, Record<string, number>>;
}

export function baselineBundle(): BundleFolder {
  return { name: 'baseline (shaders/)', dir: SHADER_DIR, manifest: JSON.stringify({ name: 'baseline', files: BASELINE_FILES, params: {} }), knobs: {} };
}

/** Reads a bundle folder's manifest.json; a missing or unreadable one is a one-line UserError. */
export function readBundleFolder(dir: string): BundleFolder {
  const file = join(dir, 'manifest.json');
  let text: string;
  if (existsSync(file)) assertRegularFileSync(file);
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UserError(`${file}: cannot read the bundle manifest (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    throw new UserError(`${file}: not valid JSON`);
  }
  // An exported bundle (kernels/README.md): the library's reader (schema, content hash, params.json).
  if ((m as { format?: unknown })?.format === BUNDLE_FORMAT) {
    const b = loadKernelBundle(dir);
    return { name: b.name, dir, manifest: text, knobs: b.knobs };
  }
  const files = (m as { files?: unknown; kernels?: unknown })?.files ?? (m as { kernels?: unknown })?.kernels;
  const names = Array.isArray(files) ? files : files && typeof files === 'object' ? Object.values(files) : [];
  const wgsl = names.filter((f): f is string => typeof f === 'string' && f.endsWith('.wgsl'));
  if (wgsl.length === 0) throw new UserError(`${file}: field files: names no .wgsl file`);
  for (const f of wgsl) if (!existsSync(join(dir, f))) throw new UserError(`${file}: field files: ${f} does not exist in ${dir}`);
  return { name: (m as { name?: string }).name ?? dir, dir, manifest: text, knobs: {} };
}

type Command = { id: number; op: 'search'; k: number; effort: number } | { op: 'stop' };

export interface PageServer {
  url: string;
  /** Resolves with the page's adapter once the index is open. */
  hello: Promise<BrowserAdapter>;
  /** Page mode: every effort's row. */
  report: Promise<{ adapter: BrowserAdapter; rows: PageRow[] }>;
  /** Drive mode: one search in the page; resolves with its ids and the page's own seconds. */
  search(k: number, effort: number): Promise<{ ids: Int32Array; seconds: number }>;
  /** Rejects everything pending (the browser exited, a timeout). */
  abort(err: Error): void;
  close(): Promise<void>;
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((a, b) => {
    resolve = a;
    reject = b;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/** A file under `root` only: `..` and absolute paths never leave it. */
function under(dir: string, rel: string): string | null {
  // Absolute, so a bundle folder given relative to the working directory (--kernel kernels/x) serves its files.
  const root = resolve(dir);
  const p = resolve(root, normalize(rel).replace(/^([/\\])+/, ''));
  return p === root || p.startsWith(root.endsWith(sep) ? root : root + sep) ? p : null;
}

/** Node's type stripping, without its once-per-process "experimental" warning on the CLI's stderr. */
function stripQuietly(code: string): string {
  const emit = process.emitWarning;
  process.emitWarning = ((w: string | Error, ...rest: unknown[]) => {
    if (!String(w instanceof Error ? w.message : w).includes('stripTypeScriptTypes')) (emit as (...a: unknown[]) => void).call(process, w, ...rest);
  }) as typeof process.emitWarning;
  try {
    return stripTypeScriptTypes(code, { mode: 'strip' });
  } finally {
    process.emitWarning = emit;
  }
}

/** The module files: a .ts source (types stripped) when the package has src/, else the built .js. */
function moduleFile(rel: string): string | null {
  const src = under(join(PKG_ROOT, 'src'), rel);
  if (src && rel.endsWith('.ts') && existsSync(src)) return stripQuietly(readFileSync(src, 'utf8'));
  const dist = under(join(PKG_ROOT, 'dist'), rel.replace(/\.ts$/, '.js'));
  if (dist && existsSync(dist) && statSync(dist).isFile()) return readFileSync(dist, 'utf8');
  return null;
}

async function body(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

export async function servePage(o: ServeOptions): Promise<PageServer> {
  const bundle = o.bundleDir ? readBundleFolder(o.bundleDir) : baselineBundle();
  const baseline = baselineBundle();
  const meta: PageMeta = { ...o.meta, bundleName: bundle.name };
  const html = renderSearchPageHtml({ moduleUrl: './mod/browser/crinn-browser.ts', css: CSS });
  const hello = deferred<BrowserAdapter>();
  const report = deferred<{ adapter: BrowserAdapter; rows: PageRow[] }>();
  const queue: Command[] = [];
  const waiting: ServerResponse[] = [];
  const pending = new Map<number, ReturnType<typeof deferred<{ ids: Int32Array; seconds: number }>>>();
  let nextId = 1;
  let failure: Error | null = null;

  const abort = (err: Error): void => {
    failure ??= err;
    hello.reject(err);
    report.reject(err);
    for (const d of pending.values()) d.reject(err);
    pending.clear();
  };
  const send = (cmd: Command): void => {
    const res = waiting.shift();
    if (res) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(cmd));
    else queue.push(cmd);
  };

  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const reply = (type: string, data: string | Uint8Array): void => {
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(data);
    };
    const bin = (a: ArrayBufferView): void => reply('application/octet-stream', new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    const handle = async (): Promise<void> => {
      if (req.method === 'POST') {
        const b = (await body(req)) as Record<string, unknown>;
        res.writeHead(204).end();
        if (path === '/hello') hello.resolve(b.adapter as BrowserAdapter);
        else if (path === '/report') report.resolve(b as { adapter: BrowserAdapter; rows: PageRow[] });
        else if (path === '/fail') abort(new Error(`browser page: ${String(b.error)}`));
        else if (path === '/result') {
          const d = pending.get(b.id as number);
          pending.delete(b.id as number);
          if (b.error) d?.reject(new Error(`browser search: ${String(b.error)}`));
          else d?.resolve({ ids: Int32Array.from(b.ids as number[]), seconds: b.seconds as number });
        }
        return;
      }
      if (path === '/' || path === '/index.html') return reply('text/html; charset=utf-8', html);
      if (path === '/meta.json') return reply('application/json', JSON.stringify(meta));
      if (path === '/index.bin') return bin(o.indexBytes);
      if (path === '/queries.bin') return bin(o.queries);
      if (path === '/gt.bin') return bin(o.groundTruth);
      if (path === '/next') {
        const cmd = queue.shift();
        if (cmd) reply('application/json', JSON.stringify(cmd));
        else waiting.push(res);
        return;
      }
      for (const [prefix, b] of [['/bundle/', bundle], ['/baseline/', baseline]] as const) {
        if (!path.startsWith(prefix)) continue;
        const rel = path.slice(prefix.length);
        if (rel === 'manifest.json') return reply('application/json', b.manifest);
        const file = rel.endsWith('.wgsl') ? under(b.dir, rel) : null;
        if (file && existsSync(file)) return reply('text/plain; charset=utf-8', readFileSync(file, 'utf8'));
      }
      if (path.startsWith('/mod/')) {
        const js = moduleFile(path.slice(5));
        if (js !== null) return reply('text/javascript; charset=utf-8', js);
      }
      res.writeHead(404).end('not found');
    };
    handle().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    hello: hello.promise,
    report: report.promise,
    search(k: number, effort: number) {
      if (failure) return Promise.reject(failure);
      const id = nextId++;
      const d = deferred<{ ids: Int32Array; seconds: number }>();
      pending.set(id, d);
      send({ id, op: 'search', k, effort });
      return d.promise;
    },
    abort,
    async close() {
      send({ op: 'stop' });
      for (const res of waiting.splice(0)) res.end(JSON.stringify({ op: 'stop' }));
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
