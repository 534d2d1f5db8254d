/**
 * Flags and environment variables are validated before any work, each refusal one line naming
 * the flag or variable; options reach the subcommand they follow; a network failure is exit 2.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { tempDir } from '../data/helpers.ts';
import { buildIndex, saveIndex } from '../../src/search/engine.ts';
import { noAdapterHint, parseBackend } from '../../src/gpu/adapters.ts';
import { gpuTimeoutMs } from '../../src/gpu/watchdog.ts';
import { sampleBenchResult } from '../../scripts/check-report-screenshot.ts';
import { crinnAsync as crinn, expectBadInput, randomRows, writeRows } from './helpers.ts';

const { dir, cleanup } = tempDir('crinn-cli-flags-');
const p = (name: string) => path.join(dir, name);
let queries = '';
let index = '';

beforeAll(async () => {
  queries = await writeRows(p('q.fvecs'), 5, 8, 2);
  const { index: idx } = await buildIndex(randomRows(300, 8, 1), 'l2', { threads: 1 });
  index = p('x.idx');
  await saveIndex(index, idx);
  writeFileSync(p('a.json'), JSON.stringify(sampleBenchResult()));
}, 60_000);
afterAll(cleanup);

describe.concurrent('environment variables are validated like flags', () => {
  it('CRINN_GPU_TIMEOUT_MS=abc and -5 are refused naming the variable, not "NaN ms"', async () => {
    const values = ['abc', '-5', '0'];
    const runs = await Promise.all(values.map((v) => crinn(['adapters'], { env: { CRINN_GPU_TIMEOUT_MS: v } })));
    values.forEach((v, i) => {
      const line = expectBadInput(runs[i], 'CRINN_GPU_TIMEOUT_MS', `'${v}'`);
      expect(line).not.toContain('NaN');
    });
    expect(gpuTimeoutMs({ CRINN_GPU_TIMEOUT_MS: '1500' })).toBe(1500);
    expect(gpuTimeoutMs({})).toBe(300_000);
  });
});

describe.concurrent('adapter flags', () => {
  it('--power turbo is refused naming the allowed values', async () => {
    expectBadInput(await crinn(['adapters', '--power', 'turbo']), '--power', "'turbo'", 'high-performance, low-power');
  });

  it('--backend metal on Linux is refused listing the backends available here; the no-adapter hint points at setup.sh', async () => {
    expectBadInput(await crinn(['--backend', 'metal', 'adapters']), "'metal' is not available on linux", 'vulkan, opengles, opengl');
    expect(() => parseBackend('metal', 'darwin')).not.toThrow();
    const hint = noAdapterHint(['vulkan']);
    expect(hint).toContain('bash scripts/setup.sh');
    expect(hint).toContain('available here: vulkan, opengles, opengl');
    expect(hint).not.toContain('README');
  });

  it('--adapter filters the `adapters` list', async () => {
    const all = JSON.parse((await crinn(['adapters', '--json'])).stdout) as { name: string; backend: string }[];
    expect(all.length).toBeGreaterThan(0);
    const one = all[0].name;
    const r = await crinn(['adapters', '--json', '--adapter', one]);
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout) as { name: string }[];
    expect(got.map((a) => a.name)).toEqual(all.filter((a) => a.name.toLowerCase().includes(one.toLowerCase())).map((a) => a.name));
    expectBadInput(await crinn(['adapters', '--adapter', 'no-such-gpu-xyz']), '--adapter', 'no-such-gpu-xyz', 'available:');
  });
});

describe.concurrent('search effort flags', () => {
  it('--ef smaller than --k is refused naming both flags, not silently raised', async () => {
    expectBadInput(await crinn(['search', '--index', index, '--queries', queries, '--out', p('r.ivecs'), '--k', '50', '--ef', '10']), '--ef 10', '--k 50');
    expect(existsSync(p('r.ivecs'))).toBe(false);
  });

  it('--ef 100000 names the flag and its limit, not the internal itopk', async () => {
    const line = expectBadInput(await crinn(['search', '--index', index, '--queries', queries, '--out', p('r.ivecs'), '--ef', '100000']), '--ef', '100000', '512');
    expect(line).not.toContain('itopk');
    expectBadInput(await crinn(['search', '--index', index, '--queries', queries, '--out', p('r.ivecs'), '--search-width', '99']), '--search-width', '32');
  });
});

describe.concurrent('options reach the subcommand they follow', () => {
  it('bench compare A.json --html out.html writes the report; --reference bogus is refused', async () => {
    const html = p('out.html');
    const r = await crinn(['bench', 'compare', p('a.json'), '--html', html]);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(html, 'utf8')).toContain('<svg');
    expectBadInput(await crinn(['bench', 'compare', p('a.json'), '--reference', 'bogus']), "'bogus'");
  });

  it('global options still work after the subcommand', async () => {
    const r = await crinn(['dataset', 'list', '--json', '--quiet']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).length).toBeGreaterThan(0);
  });
});

describe.concurrent('environment failures', () => {
  it('dataset download without a network exits 2, not the bad-input 1', async () => {
    // A port that was just free: the connection is refused, as with no network.
    const srv = createServer();
    await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', ok));
    const port = (srv.address() as AddressInfo).port;
    await new Promise((ok) => srv.close(ok));
    const r = await crinn(['dataset', 'download', 'x', '--url', `http://127.0.0.1:${port}/x.hdf5`, '--cache-dir', p('cache'), '--quiet']);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^crinn: .*127\\.0\\.0\\.1:${port}.*request failed.*ECONNREFUSED`, 'm'));
  });
});
