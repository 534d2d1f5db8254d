/**
 * `crinn variant init` and `crinn evaluate` exit codes, without a GPU: bad input exits 1 with one
 * line and writes nothing; a verdict (here a load failure) exits 0 and is written as JSON.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crinn, expectBadInput } from '../cli/helpers.ts';
import { verdictSchema } from '../../src/evolve/contract.ts';

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
    expect(readdirSync(out).sort()).toEqual(['base_f16.wgsl', 'base_f32.wgsl', 'beam_search.wgsl', 'variant.json']);
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

  it('a broken variant.json is a verdict (failed at load), exit 0, written as JSON', () => {
    const dir = join(tmp, 'broken');
    mkdirSync(dir);
    writeFileSync(join(dir, 'variant.json'), '{"manifest": {"module": "search"}}');
    const json = join(tmp, 'verdict.json');
    const r = crinn(['evaluate', '--variant', dir, '--json', json]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^failed \(stage load\)/);
    const v = verdictSchema.parse(JSON.parse(readFileSync(json, 'utf8')));
    expect([v.status, v.stage]).toEqual(['failed', 'load']);
    expect(v.reason).toMatch(/variant\.json: manifest\./);
  });
});
