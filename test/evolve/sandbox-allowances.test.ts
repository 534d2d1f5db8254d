/**
 * A symlinked node_modules (pnpm, monorepos, a shared install): the sandbox child's read
 * allowances include each link on the way and the real paths, so a bare import through the link
 * loads under Node's permission model; and a denied read says which path was denied. Real
 * namespaces and the real permission model; no GPU.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sandbox, type CallOutcome } from '../../src/evolve/sandbox.ts';
import { readAllowances } from '../../src/evolve/sandbox-isolation.ts';

let tmp: string;
let proj: string;
let store: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'crinn-allow-test-'));
  // store/node_modules/pkg is the real install; proj/node_modules is a link to it.
  store = join(tmp, 'store', 'node_modules');
  mkdirSync(join(store, 'pkg'), { recursive: true });
  writeFileSync(join(store, 'pkg', 'package.json'), JSON.stringify({ name: 'pkg', type: 'module', main: 'index.js' }));
  writeFileSync(join(store, 'pkg', 'index.js'), 'export const answer = 42;\n');
  proj = join(tmp, 'proj');
  mkdirSync(proj);
  writeFileSync(join(proj, 'package.json'), JSON.stringify({ type: 'module' }));
  symlinkSync(store, join(proj, 'node_modules'));
  writeFileSync(join(proj, 'entry.ts'), [
    'export const ops = {',
    "  load: async () => (await import('pkg')).answer,",
    '};',
    '',
  ].join('\n'));
  mkdirSync(join(tmp, 'scratch'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function load(readPaths: string[]): Promise<CallOutcome> {
  const sb = await Sandbox.start({ entry: join(proj, 'entry.ts'), readPaths, scratch: join(tmp, 'scratch'), timeouts: { startMs: 60_000, callMs: 30_000 }, memMiB: 512 });
  try {
    return await sb.call('load', {});
  } finally {
    await sb.close();
  }
}

describe('sandbox read allowances with a symlinked node_modules', () => {
  it('readAllowances adds the link itself and the real paths, ancestors before descendants', () => {
    const a = readAllowances([join(proj, 'package.json'), join(proj, 'node_modules', 'pkg')]);
    expect(a).toEqual(expect.arrayContaining([join(proj, 'package.json'), join(proj, 'node_modules', 'pkg'), join(proj, 'node_modules'), store, join(store, 'pkg')]));
    expect(a.indexOf(join(proj, 'node_modules'))).toBeLessThan(a.indexOf(join(proj, 'node_modules', 'pkg')));
    expect(a.indexOf(store)).toBeLessThan(a.indexOf(join(store, 'pkg')));
    // A path without links, or one that does not exist, stays as it is.
    expect(readAllowances([join(proj, 'package.json'), join(tmp, 'missing')])).toEqual([join(proj, 'package.json'), join(tmp, 'missing')].sort((x, y) => x.length - y.length));
  });

  it('a bare import through the link loads in the child; without the link allowed, the failure names the denied path', async () => {
    const ok = await load(readAllowances([join(proj, 'package.json'), join(proj, 'node_modules', 'pkg')]));
    expect(ok, JSON.stringify(ok)).toMatchObject({ ok: true, value: 42 });
    // The allowances before this fix: the paths and their real paths, not the link on the way.
    const denied = await load([join(proj, 'package.json'), join(proj, 'node_modules', 'pkg'), join(store, 'pkg')]);
    expect(denied.ok).toBe(false);
    expect(JSON.stringify(denied)).toContain(`denied: FileSystemRead ${join(proj, 'node_modules')}`);
  }, 120_000);
});
