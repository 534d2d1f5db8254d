/**
 * Downloads ann-benchmarks HDF5 files into the cache. The body streams to `<cache>/NAME.hdf5.part`;
 * only after the size, checksum and HDF5 signature checks pass is it renamed to `NAME.hdf5`, so a
 * cut connection or an error page never leaves a file that looks complete.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { EnvironmentError, UserError } from '../errors.ts';
import { annDatasets, findAnnDataset } from './manifest.ts';
import { assertHdf5Signature } from './hdf5.ts';
import { trackTemp } from './temp-files.ts';

export interface DownloadOptions {
  cacheDir?: string;
  /** Download from here instead of the manifest URL (also allows names not in the manifest). */
  url?: string;
  /** Download again even when the cached file exists. */
  force?: boolean;
  /** No progress bar (it is also off when stderr is not a terminal). */
  quiet?: boolean;
  /** Expected size in bytes (default: the manifest's approxBytes); checked within `sizeTolerance`. */
  expectedBytes?: number | null;
  /** Expected sha256 hex (default: the manifest's, when known). */
  sha256?: string | null;
  /** Relative tolerance for `expectedBytes` (default 0.15: the manifest sizes are rounded). */
  sizeTolerance?: number;
}

export interface DownloadResult {
  path: string;
  url: string;
  bytes: number;
  /** True when the file was already in the cache and nothing was fetched. */
  cached: boolean;
  /** Of the downloaded bytes; absent for a cache hit. */
  sha256?: string;
}

/** `$CRINN_CACHE_DIR`, else `~/.cache/crinn`. */
export function defaultCacheDir(): string {
  return process.env.CRINN_CACHE_DIR || path.join(os.homedir(), '.cache', 'crinn');
}

export function cachedDatasetPath(name: string, cacheDir = defaultCacheDir()): string {
  return path.join(cacheDir, `${name}.hdf5`);
}

function checkName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
    throw new UserError(`dataset name '${name}': expected letters, digits, '.', '_' or '-' (it becomes a file name)`);
  }
}

function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}

export async function downloadDataset(name: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
  checkName(name);
  const entry = findAnnDataset(name);
  if (!entry && !opts.url) {
    const known = annDatasets().map((d) => d.name).join(', ');
    throw new UserError(`unknown dataset '${name}' for download; known: ${known} (or pass --url)`);
  }
  const url = opts.url ?? entry!.url;
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('protocol');
  } catch {
    throw new UserError(`--url: '${url}' is not an http(s) URL`);
  }
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const dest = cachedDatasetPath(name, cacheDir);
  if (!opts.force) {
    const st = await stat(dest).catch(() => undefined);
    if (st?.isFile()) return { path: dest, url, bytes: st.size, cached: true };
  }
  try {
    await mkdir(cacheDir, { recursive: true });
  } catch (err) {
    throw new UserError(`--cache-dir: cannot create ${cacheDir} (${(err as Error).message})`);
  }
  // A custom URL may serve a different file than the manifest describes, so only its own checks apply.
  const expectedBytes = opts.expectedBytes !== undefined ? opts.expectedBytes : opts.url ? null : (entry?.approxBytes ?? null);
  const sha256 = opts.sha256 !== undefined ? opts.sha256 : opts.url ? null : (entry?.sha256 ?? null);
  const part = `${dest}.part`;
  const untrack = trackTemp(part);
  try {
    const got = await fetchTo(url, part, { quiet: opts.quiet ?? false, label: name });
    if (expectedBytes != null) {
      const tol = opts.sizeTolerance ?? 0.15;
      if (Math.abs(got.bytes - expectedBytes) > tol * expectedBytes) {
        throw new UserError(`${url}: received ${got.bytes} bytes, expected about ${expectedBytes} (±${Math.round(tol * 100)}%)`);
      }
    }
    if (sha256 && got.sha256 !== sha256.toLowerCase()) {
      throw new UserError(`${url}: sha256 ${got.sha256} does not match the expected ${sha256}`);
    }
    try {
      await assertHdf5Signature(part);
    } catch {
      throw new UserError(`${url}: the response is not an HDF5 file (${got.bytes} bytes); check the URL`);
    }
    await rename(part, dest);
    return { path: dest, url, bytes: got.bytes, cached: false, sha256: got.sha256 };
  } catch (err) {
    await rm(part, { force: true });
    throw err;
  } finally {
    untrack();
  }
}

/** Streams `url` into `file`, checking the byte count against Content-Length. */
async function fetchTo(url: string, file: string, o: { quiet: boolean; label: string }): Promise<{ bytes: number; sha256: string }> {
  let res: Response;
  try {
    // identity: Content-Length must describe the bytes we count, not a compressed body.
    res = await fetch(url, { headers: { 'accept-encoding': 'identity' }, redirect: 'follow' });
  } catch (err) {
    // No network, DNS failure, refused connection: the machine's fault, not the input's (exit 2).
    throw new EnvironmentError(`${url}: request failed (${describe(err)})`);
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    // 4xx: the URL is wrong (bad input); 5xx and the rest: the server is failing (environment).
    const Err = res.status >= 400 && res.status < 500 ? UserError : EnvironmentError;
    throw new Err(`${url}: HTTP ${res.status} ${res.statusText}`.trimEnd());
  }
  const lengthHeader = res.headers.get('content-length');
  const encoded = (res.headers.get('content-encoding') ?? 'identity') !== 'identity';
  const total = lengthHeader && !encoded ? Number(lengthHeader) : undefined;
  const hash = createHash('sha256');
  const bar =
    !o.quiet && process.stderr.isTTY
      ? new cliProgress.SingleBar({
          stream: process.stderr,
          format: `${o.label} [{bar}] {percentage}% | {done}/{size} MiB | ETA {eta_formatted}`,
          hideCursor: true,
          clearOnComplete: false,
        })
      : undefined;
  bar?.start(total ?? 0, 0, { done: '0.0', size: total ? mib(total) : '?' });
  let bytes = 0;
  const fh = await open(file, 'w');
  try {
    try {
      for await (const chunk of res.body) {
        hash.update(chunk);
        await fh.write(chunk);
        bytes += chunk.byteLength;
        bar?.update(bytes, { done: mib(bytes) });
      }
    } catch (err) {
      throw new EnvironmentError(`${url}: download failed after ${bytes}${total ? ` of ${total}` : ''} bytes (${describe(err)})`);
    }
    if (total !== undefined && bytes !== total) {
      throw new EnvironmentError(`${url}: truncated download: received ${bytes} of ${total} bytes (Content-Length)`);
    }
    await fh.sync();
  } finally {
    bar?.stop();
    await fh.close();
  }
  return { bytes, sha256: hash.digest('hex') };
}

/** `fetch failed`/`terminated` hide the useful part in `cause`. */
function describe(err: unknown): string {
  const e = err as Error & { cause?: { message?: string; code?: string } };
  const cause = e?.cause?.code ?? e?.cause?.message;
  return cause ? `${e.message}: ${cause}` : String(e?.message ?? err);
}
