/** SIGINT/SIGTERM during a save removes the temp files and exits 130/143 (no `x.idx.tmp-PID-*` left forever). */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { repoRoot, tempDir } from '../data/helpers.ts';
import { nodeBin } from './helpers.ts';

const { dir, cleanup } = tempDir('crinn-cli-signal-');
afterAll(cleanup);

function interrupt(kind: 'index' | 'vecs', sig: 'SIGINT' | 'SIGTERM', name: string) {
  const sub = path.join(dir, `${kind}-${sig}`);
  mkdirSync(sub);
  const r = spawnSync(nodeBin, [path.join(repoRoot, 'test/cli/interrupt-save.ts'), kind, path.join(sub, name), sig], { encoding: 'utf8', timeout: 60_000 });
  return { r, files: readdirSync(sub) };
}

describe('a signal during a save', () => {
  it('SIGTERM while an index is written: exit 143, no temp file, no index', () => {
    const { r, files } = interrupt('index', 'SIGTERM', 'x.idx');
    expect(r.stdout).not.toContain('finished before the signal');
    expect(r.status, r.stderr).toBe(143);
    expect(r.stderr).toContain('interrupted by SIGTERM');
    expect(files).toEqual([]);
  }, 60_000);

  it('SIGINT while an ids/distances pair is written: exit 130, neither file nor temp left', () => {
    const { r, files } = interrupt('vecs', 'SIGINT', 'res.ivecs');
    expect(r.stdout).not.toContain('finished before the signal');
    expect(r.status, r.stderr).toBe(130);
    expect(files).toEqual([]);
  }, 60_000);
});
