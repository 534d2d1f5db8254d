import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { DawnNoiseFilter } from '../../src/cli/stderr-filter.ts';
import { repoRoot } from '../data/helpers.ts';

const NOISE = 'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 80 to 16 to fit dynamic offset allocation limit.';

async function filter(chunks: string[]): Promise<string> {
  let out = '';
  for await (const c of Readable.from(chunks).pipe(new DawnNoiseFilter())) out += c.toString();
  return out;
}

function crinn(...args: string[]) {
  return spawnSync(path.join(repoRoot, 'node_modules/.bin/node'), [path.join(repoRoot, 'src/cli/main.ts'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, CRINN_STDERR_FILTERED: '' },
  });
}

describe('quiet normal run', () => {
  it('drops Dawn limit warnings even when split across chunks, and passes everything else through', async () => {
    expect(await filter([`${NOISE}\n`, 'progress 1/3\r', 'Warn', 'ing: max', 'Foo artificially reduced from 1 to 2 to fit dynamic offset allocation limit.\nreal line\n'])).toBe('progress 1/3\rreal line\n');
    // Adapter discovery on a GPU server without libEGL: the warning and its detail lines go.
    const egl = 'Warning: Failed to load libEGL.so: "libEGL.so: cannot open shared object file: No such file or directory".\n - While trying to discover a BackendType::OpenGLES adapter.\n    at InitializeWithDynamicLoading (/x/DisplayEGL.cpp:88)\n\n';
    expect(await filter([egl, 'nvidia-h200 (vulkan)\n', egl.slice(0, 30), egl.slice(30), '  vendor nvidia\n'])).toBe('nvidia-h200 (vulkan)\n  vendor nvidia\n');
    // A user-facing warning that only looks similar is kept, as is an unterminated last line.
    expect(await filter(['Warning: something else\n', 'tail'])).toBe('Warning: something else\ntail');
  });

  it('a GPU command prints no Dawn warnings on stderr; --verbose keeps them', () => {
    const quiet = crinn('adapters');
    expect(quiet.status).toBe(0);
    expect(quiet.stdout).toContain('feature level');
    expect(quiet.stderr).toBe('');
    const verbose = crinn('--verbose', 'adapters');
    expect(verbose.status).toBe(0);
    expect(verbose.stderr).toContain('artificially reduced');
  });

  it('keeps the exit code of a failing command and its one-line error', () => {
    const r = crinn('search', '--index', path.join(repoRoot, 'no-such.idx'), '--queries', 'q.fvecs', '--out', path.join(repoRoot, 'out-x.ivecs'));
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('no-such.idx');
  });
});
