/**
 * The package as a user gets it: `npm pack` (which builds dist/ through `prepare`), the tarball
 * installed into an empty project, and there the CLI, the public entry and the README's example.
 * Dependencies come from the local npm cache or the registry. The optional bench peers are left
 * out (--omit=optional): that keeps the install lean (hnswlib-node compiles from source) and
 * checks that the library and bench work without them.
 */
import { execFile, execFileSync } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
// npm, npx and the `crinn` bin run on the Node that runs this test (>= 22.18), not a system one.
const env = { ...process.env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH}`, NO_UPDATE_NOTIFIER: '1' };
const exec = (file: string, args: string[], cwd: string, timeout = 300_000) =>
  run(file, args, { cwd, env, timeout, maxBuffer: 64 << 20 });

interface PackInfo {
  filename: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: { path: string }[];
}

let tmp = '';
let consumer = '';
let pack: PackInfo;
const version = (JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'crinn-pack-'));
  const { stdout } = await exec('npm', ['pack', '--json', '--pack-destination', tmp], root);
  // `prepare` (the build) prints to stdout before the JSON.
  pack = (JSON.parse(stdout.slice(stdout.indexOf('\n[') + 1)) as PackInfo[])[0];
  consumer = path.join(tmp, 'consumer');
  await exec('mkdir', ['-p', consumer], tmp);
  await writeFile(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  await exec('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--omit=optional', path.join(tmp, pack.filename)], consumer);
}, 600_000);

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('ships the build, shaders and manifests, and no sources or tests', () => {
    const files = pack.files.map((f) => f.path);
    for (const f of ['bin/crinn.js', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'dist/graph/build-worker.js', 'shaders/beam_search.wgsl', 'datasets/synthetic.json', 'datasets/ann-benchmarks.json', 'package.json']) {
      expect(files).toContain(f);
    }
    expect(files.filter((f) => /^(src|test|scripts|examples|scratch)\//.test(f) || f.endsWith('.tsbuildinfo'))).toEqual([]);
    // The emitted JavaScript imports .js files: nothing under node_modules can strip types.
    expect(files.filter((f) => f.startsWith('dist/') && f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    console.log(`packed ${pack.filename}: ${(pack.size / 1024).toFixed(0)} KiB, unpacked ${(pack.unpackedSize / 1024).toFixed(0)} KiB, ${pack.entryCount} files`);
  });
});

// Independent checks on the one installed copy: concurrent, so their processes overlap.
describe.concurrent('installed into an empty project', () => {
  it('npx crinn runs the built CLI', async () => {
    const [v, a, l] = await Promise.all([['--version'], ['adapters', '--json'], ['dataset', 'list']].map((args) => exec('npx', ['--no', '--', 'crinn', ...args], consumer)));
    expect(v.stdout.trim()).toBe(version);
    const adapters = JSON.parse(a.stdout) as { name: string }[];
    expect(adapters.length).toBeGreaterThan(0);
    expect(adapters[0].name).toMatch(/\S/);
    // The dataset manifests are found from dist/ (paths relative to the module).
    const list = l.stdout;
    expect(list).toMatch(/^synthetic-20k\s/m);
    expect(list).toMatch(/^glove-100-angular\s/m);
  });

  // Only where this machine has an older Node beside the one running the tests (system Node 20 here).
  const oldNode = ['/usr/bin/node', '/usr/local/bin/node'].find((f) => {
    try {
      const [major, minor] = execFileSync(f, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim().split('.').map(Number);
      return major < 22 || (major === 22 && minor < 18);
    } catch {
      return false;
    }
  });
  it.skipIf(!oldNode)('the installed bin refuses an old Node with one line, exit 2', async () => {
    const err = await exec(oldNode!, ['node_modules/.bin/crinn', '--version'], consumer).catch((e: { code: number; stderr: string }) => e);
    expect(err).toMatchObject({ code: 2 });
    expect((err as { stderr: string }).stderr).toMatch(/^crinn: needs Node >= 22\.18 \(this is v[\d.]+\); install Node 22\.18 or later/);
  });

  it('builds, saves, loads and searches through the public entry; recall checked against brute force', async () => {
    await copyFile(path.join(root, 'test/package/consumer.mjs'), path.join(consumer, 'consumer.mjs'));
    const { stdout } = await exec(process.execPath, ['consumer.mjs'], consumer);
    const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(r.exports).toEqual(expect.arrayContaining(['openGpu', 'buildIndex', 'saveIndex', 'loadIndex', 'AnnEngine', 'loadDataset', 'runBench', 'recallAtK', 'UserError', 'GpuError', 'VERSION']));
    expect(r.deepImport).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
    expect(r.buildThreads).toBe(2);
    // Measured 0.979 on lavapipe (4000 x 24, 16 clusters, degree 16, itopk 16; 0.935 at itopk 10).
    expect(r.recall).toBeGreaterThanOrEqual(0.95);
    expect(r.badInput).toBe('UserError');
    expect(r.peers).toEqual({ usearch: expect.stringContaining('not installed'), hnswlib: expect.stringContaining('not installed') });
  });

  it("runs and typechecks the README's library example", async () => {
    const example = await readFile(path.join(root, 'examples/library.ts'), 'utf8');
    // The README shows the example's code verbatim (from its first import on).
    const readme = await readFile(path.join(root, 'README.md'), 'utf8');
    expect(readme).toContain(example.slice(example.indexOf('import ')).trim());

    await writeFile(path.join(consumer, 'library.ts'), example);
    const { stdout } = await exec(process.execPath, ['library.ts'], consumer);
    const m = /recall@10 (\d\.\d+)/.exec(stdout);
    expect(m, stdout).not.toBeNull();
    // Measured 0.998 on lavapipe (synthetic-5k-d32, degree 32, itopk 64).
    expect(Number(m![1])).toBeGreaterThanOrEqual(0.97);

    // The shipped .d.ts files are enough for a strict TypeScript user (no skipLibCheck for ours).
    await writeFile(path.join(consumer, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        module: 'nodenext', target: 'es2023', strict: true, noEmit: true, skipLibCheck: false,
        types: ['node'], typeRoots: [path.join(root, 'node_modules/@types')],
      },
      files: ['library.ts'],
    }));
    await exec(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', '.'], consumer).catch((err: { stdout?: string }) => {
      throw new Error(`tsc in the consumer project failed:\n${err.stdout ?? String(err)}`);
    });
  });
});
