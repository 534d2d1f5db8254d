import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { Command } from 'commander';
import path from 'node:path';
import { registerDatasetCommands } from '../../src/cli/commands/dataset.ts';
import { writeFvecs } from '../../src/data/vecs.ts';
import { expectUserError, hasShared, sharedData, tempDir } from './helpers.ts';

const { dir, cleanup } = tempDir('crinn-cli-');
afterAll(cleanup);
afterEach(() => {
  vi.restoreAllMocks();
});

/** A root program with the lead's global options, as src/cli/main.ts defines them. */
function program(): Command {
  const p = new Command('crinn').option('--data-dir <dir>').option('--quiet').option('--verbose').exitOverride();
  registerDatasetCommands(p);
  return p;
}

async function run(...args: string[]): Promise<string> {
  let out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  await program().parseAsync(['node', 'crinn', ...args]);
  vi.restoreAllMocks();
  return out;
}

describe('crinn dataset', () => {
  it('info prints a table and JSON for a file', async () => {
    const p = path.join(dir, 'v.fvecs');
    await writeFvecs(p, { data: Float32Array.from({ length: 100 * 3 }, (_, i) => i % 5), n: 100, dim: 3 });
    const table = await run('dataset', 'info', p, '--cache-dir', dir);
    expect(table).toContain('95 x 3');
    expect(table).toContain('fingerprint');
    const json = JSON.parse(await run('dataset', 'info', p, '--json', '--queries', '10', '--cache-dir', dir));
    expect(json).toMatchObject({ metric: 'l2', base: { n: 90, dim: 3 }, queries: { n: 10 } });
    expect(json.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it.skipIf(!hasShared)('info reads --data-dir from the global options and shows raw norms for angular sets', async () => {
    const json = JSON.parse(await run('--data-dir', sharedData, 'dataset', 'info', 'glove-50-10k', '--json', '--cache-dir', dir));
    expect(json).toMatchObject({ name: 'glove-50-10k', metric: 'angular', base: { n: 9500, dim: 50 } });
    expect(json.base.norm.max).toBeGreaterThan(1.5);
  });

  it('info on the embedded angular set shows raw norms (no data folder needed), and a named --data-dir must exist', async () => {
    const json = JSON.parse(await run('dataset', 'info', 'glove-50-5k', '--json', '--cache-dir', dir));
    expect(json).toMatchObject({ name: 'glove-50-5k', metric: 'angular', base: { n: 5000, dim: 50 }, queries: { n: 200 } });
    expect(json.base.norm.max).toBeGreaterThan(1.5);
    await expectUserError(run('--data-dir', path.join(dir, 'missing'), 'dataset', 'info', 'siftsmall', '--cache-dir', dir), '--data-dir', 'does not exist');
  });

  it('bad options are UserErrors', async () => {
    await expectUserError(run('dataset', 'info', 'synthetic-1000', '--limit', 'abc'), '--limit', 'abc');
    await expectUserError(run('dataset', 'info', 'synthetic-1000', '--metric', 'hamming'), '--metric', 'hamming');
    await expectUserError(run('dataset', 'download', 'sift-128-euclidean', '--sha256', 'xyz'), '--sha256');
  });

  it('list shows every known name', async () => {
    const out = await run('dataset', 'list', '--cache-dir', dir);
    for (const n of ['siftsmall-5k', 'glove-50-5k', 'siftsmall', 'glove-50-10k', 'synthetic-20k', 'sift-128-euclidean']) expect(out).toContain(n);
  });
});
