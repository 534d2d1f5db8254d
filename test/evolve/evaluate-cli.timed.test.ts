/**
 * `crinn variant init` and `crinn evaluate` exit codes, without a GPU: bad input (a flag, or a
 * variant folder that does not load) exits 1 with one line and writes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crinn, expectBadInput, sha } from '../cli/helpers.ts';
import { loadVariant } from '../../src/evolve/modules.ts';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'crinn-evaluate-cli-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('crinn variant init', () => {
  it('writes a folder, then refuses it as non-empty; an unknown module is bad input', () => {
    const out = join(tmp, 'v');
    const r = crinn(['variant', 'init', '--module', 'search', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['base_binary.wgsl', 'base_f16.wgsl', 'base_f32.wgsl', 'base_int8.wgsl', 'beam_search.wgsl', 'filter_labels.wgsl', 'variant.json']);
    expectBadInput(crinn(['variant', 'init', '--module', 'search', '--out', out]), /--out: .* is not empty/);
    expectBadInput(crinn(['variant', 'init', '--module', 'kernel', '--out', join(tmp, 'w')]), /--module: unknown module 'kernel'/);
    expect(existsSync(join(tmp, 'w'))).toBe(false);
    // Nothing but the finished folder is left beside it (no temp folders).
    expect(readdirSync(tmp)).toEqual(['v']);
  });
});

describe('crinn evaluate', () => {
  it('a missing variant folder is bad input', () => {
    expectBadInput(crinn(['evaluate', '--variant', join(tmp, 'missing')]), /--variant: .* is not a folder/);
  });

  it('a missing, garbled or invalid variant.json is bad input (exit 1, one line naming it), as the help and README say; no JSON written', () => {
    const json = join(tmp, 'verdict.json');
    const dir = join(tmp, 'broken');
    mkdirSync(dir);
    expectBadInput(crinn(['evaluate', '--variant', dir, '--json', json]), join(dir, 'variant.json'), 'missing');
    writeFileSync(join(dir, 'variant.json'), '{"manifest": {"module": "search"}}');
    expectBadInput(crinn(['evaluate', '--variant', dir, '--json', json]), join(dir, 'variant.json'), 'manifest.');
    writeFileSync(join(dir, 'variant.json'), '{"manifest": ');
    expectBadInput(crinn(['evaluate', '--variant', dir, '--json', json]), join(dir, 'variant.json'), 'not valid JSON');
    expect(existsSync(json)).toBe(false);
    const help = crinn(['evaluate', '--help']).stdout.replace(/\s+/g, ' ');
    expect(help).toContain('1 for bad input');
  });
});

describe('crinn evaluate: a variant folder is read only through regular files inside it', () => {
  const fresh = (name: string): string => {
    const dir = join(tmp, name);
    cpSync(join(tmp, 'v'), dir, { recursive: true });
    return dir;
  };

  it("--json onto the variant's own variant.json (or one of its files) is refused; the files are unchanged", () => {
    const dir = fresh('own-json');
    const before = [sha(join(dir, 'variant.json')), sha(join(dir, 'beam_search.wgsl'))];
    expectBadInput(crinn(['evaluate', '--variant', dir, '--json', join(dir, 'variant.json')]), '--json', 'same file as the input --variant', 'variant.json');
    expectBadInput(crinn(['evaluate', '--variant', dir, '--json', join(dir, 'beam_search.wgsl')]), '--json', 'beam_search.wgsl');
    expect([sha(join(dir, 'variant.json')), sha(join(dir, 'beam_search.wgsl'))]).toEqual(before);
  });

  it('a FIFO as variant.json or as a source file is refused at once instead of blocking', () => {
    const dir = fresh('fifo');
    unlinkSync(join(dir, 'variant.json'));
    execFileSync('mkfifo', [join(dir, 'variant.json')]);
    expectBadInput(crinn(['evaluate', '--variant', dir], { timeout: 20_000 }), join(dir, 'variant.json'), 'FIFO');
    const dir2 = fresh('fifo-src');
    unlinkSync(join(dir2, 'base_f16.wgsl'));
    execFileSync('mkfifo', [join(dir2, 'base_f16.wgsl')]);
    expectBadInput(crinn(['evaluate', '--variant', dir2], { timeout: 20_000 }), join(dir2, 'base_f16.wgsl'), 'FIFO');
  });

  it('a symlink leaving the folder (/etc/passwd as base_f16.wgsl, variant.json linked from elsewhere) is refused naming the file; a link inside the folder is fine', () => {
    const dir = fresh('escape');
    unlinkSync(join(dir, 'base_f16.wgsl'));
    symlinkSync('/etc/passwd', join(dir, 'base_f16.wgsl'));
    expectBadInput(crinn(['evaluate', '--variant', dir]), join(dir, 'base_f16.wgsl'), 'symbolic link to /etc/passwd', 'outside the variant folder');
    expect(() => loadVariant(dir)).toThrow(/outside the variant folder/);
    // variant.json itself linked from elsewhere
    const dir2 = fresh('escape-json');
    const elsewhere = join(tmp, 'elsewhere-variant.json');
    cpSync(join(dir2, 'variant.json'), elsewhere);
    unlinkSync(join(dir2, 'variant.json'));
    symlinkSync(elsewhere, join(dir2, 'variant.json'));
    expect(() => loadVariant(dir2)).toThrow(/variant\.json: a symbolic link to .*elsewhere-variant\.json, outside the variant folder/);
    // A link that stays inside is only a spelling.
    const dir3 = fresh('inside');
    cpSync(join(dir3, 'base_f16.wgsl'), join(dir3, 'real_f16.wgsl'));
    unlinkSync(join(dir3, 'base_f16.wgsl'));
    symlinkSync('real_f16.wgsl', join(dir3, 'base_f16.wgsl'));
    expect(loadVariant(dir3).hash).toBe(loadVariant(join(tmp, 'v')).hash);
  });
});
