import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { downloadDataset, cachedDatasetPath } from '../../src/data/download.ts';
import { readAnnHdf5, writeAnnHdf5 } from '../../src/data/hdf5.ts';
import { EnvironmentError, exitCodeFor } from '../../src/errors.ts';
import { expectUserError, tempDir } from './helpers.ts';

async function expectEnvironmentError(p: Promise<unknown>, ...fragments: string[]): Promise<string> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err, 'expected an EnvironmentError').toBeInstanceOf(EnvironmentError);
  expect(exitCodeFor(err)).toBe(2);
  const msg = (err as Error).message;
  for (const f of fragments) expect(msg).toContain(f);
  return msg;
}

const { dir, cleanup } = tempDir('crinn-download-');
let server: Server;
let base = '';
let body: Buffer;
const hits: Record<string, number> = {};

beforeAll(async () => {
  const src = path.join(dir, 'src.hdf5');
  await writeAnnHdf5(src, {
    metric: 'l2',
    train: { data: Float32Array.from({ length: 2000 * 32 }, (_, i) => i % 101), n: 2000, dim: 32 },
    test: { data: Float32Array.from({ length: 10 * 32 }, (_, i) => i % 7), n: 10, dim: 32 },
    neighbors: { data: new Int32Array(10 * 5), n: 10, dim: 5 },
    distances: { data: new Float32Array(10 * 5), n: 10, dim: 5 },
  });
  body = readFileSync(src);
  server = createServer((req, res) => {
    const url = req.url ?? '';
    hits[url] = (hits[url] ?? 0) + 1;
    if (url === '/ok.hdf5') {
      res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/x-hdf5' });
      res.end(body);
    } else if (url === '/chunked.hdf5') {
      res.writeHead(200, { 'content-type': 'application/x-hdf5' });
      res.write(body.subarray(0, 1000));
      res.end(body.subarray(1000));
    } else if (url === '/trunc.hdf5') {
      // Promise the whole file, send half, then drop the connection.
      res.writeHead(200, { 'content-length': body.length });
      res.write(body.subarray(0, body.length >> 1), () => setTimeout(() => res.socket?.destroy(), 20));
    } else if (url === '/page.hdf5') {
      const html = Buffer.from('<html><body>Welcome</body></html>');
      res.writeHead(200, { 'content-length': html.length, 'content-type': 'text/html' });
      res.end(html);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  cleanup();
});

function cacheFiles(cacheDir: string): string[] {
  return existsSync(cacheDir) ? readdirSync(cacheDir) : [];
}

describe('dataset download', () => {
  it('streams into the cache, verifies, renames; a second call is instant; --force fetches again', async () => {
    const cacheDir = path.join(dir, 'c1');
    const r = await downloadDataset('tiny', { cacheDir, url: `${base}/ok.hdf5`, quiet: true, sha256: createHash('sha256').update(body).digest('hex') });
    expect(r).toMatchObject({ path: cachedDatasetPath('tiny', cacheDir), bytes: body.length, cached: false });
    expect(readFileSync(r.path).equals(body)).toBe(true);
    expect(cacheFiles(cacheDir)).toEqual(['tiny.hdf5']);
    expect((await readAnnHdf5(r.path)).train.n).toBe(2000);

    const before = hits['/ok.hdf5'];
    const again = await downloadDataset('tiny', { cacheDir, url: `${base}/ok.hdf5`, quiet: true });
    expect(again).toMatchObject({ cached: true, bytes: body.length });
    expect(hits['/ok.hdf5']).toBe(before);
    await downloadDataset('tiny', { cacheDir, url: `${base}/ok.hdf5`, quiet: true, force: true });
    expect(hits['/ok.hdf5']).toBe(before + 1);
  });

  it('works without Content-Length (chunked)', async () => {
    const cacheDir = path.join(dir, 'c2');
    const r = await downloadDataset('chunky', { cacheDir, url: `${base}/chunked.hdf5`, quiet: true, expectedBytes: body.length });
    expect(readFileSync(r.path).equals(body)).toBe(true);
  });

  it('a truncated response leaves no final file and no .part', async () => {
    const cacheDir = path.join(dir, 'c3');
    const msg = await expectEnvironmentError(downloadDataset('cut', { cacheDir, url: `${base}/trunc.hdf5`, quiet: true }), `${base}/trunc.hdf5`);
    expect(msg).toMatch(/failed after \d+ of \d+ bytes|truncated download/);
    expect(cacheFiles(cacheDir)).toEqual([]);
  });

  it('HTTP 404 is a clear error and leaves nothing', async () => {
    const cacheDir = path.join(dir, 'c4');
    await expectUserError(downloadDataset('gone', { cacheDir, url: `${base}/missing.hdf5`, quiet: true }), `${base}/missing.hdf5`, 'HTTP 404');
    expect(cacheFiles(cacheDir)).toEqual([]);
  });

  it('rejects an HTML page, a wrong checksum and a wrong size', async () => {
    const cacheDir = path.join(dir, 'c5');
    await expectUserError(downloadDataset('page', { cacheDir, url: `${base}/page.hdf5`, quiet: true }), 'not an HDF5 file');
    await expectUserError(downloadDataset('sum', { cacheDir, url: `${base}/ok.hdf5`, quiet: true, sha256: '0'.repeat(64) }), 'sha256', 'does not match');
    await expectUserError(downloadDataset('size', { cacheDir, url: `${base}/ok.hdf5`, quiet: true, expectedBytes: body.length * 3 }), `received ${body.length} bytes`, 'expected about');
    expect(cacheFiles(cacheDir)).toEqual([]);
  });

  it('bad names and URLs', async () => {
    const cacheDir = path.join(dir, 'c6');
    await expectUserError(downloadDataset('not-in-manifest', { cacheDir }), "unknown dataset 'not-in-manifest'", 'sift-128-euclidean', '--url');
    await expectUserError(downloadDataset('../evil', { cacheDir, url: `${base}/ok.hdf5` }), "'../evil'");
    await expectUserError(downloadDataset('x', { cacheDir, url: 'ftp://example.com/x.hdf5' }), '--url', 'http');
    // No network is the machine's fault: exit 2, not the bad-input exit 1.
    // A port that was just free: refused, as with no network (port 1 is a fetch "bad port" instead).
    const probe = createServer();
    await new Promise<void>((ok) => probe.listen(0, '127.0.0.1', ok));
    const closed = `http://127.0.0.1:${(probe.address() as AddressInfo).port}/x.hdf5`;
    await new Promise((ok) => probe.close(ok));
    const msg = await expectEnvironmentError(downloadDataset('x', { cacheDir, url: closed, quiet: true }), 'request failed');
    expect(msg).toContain(closed);
  });
});
