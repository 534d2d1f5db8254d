/**
 * `crinn prompt show --module M RUN` on a run made by the real loop (GPU-free fixture evaluator):
 * the prompt names the module's task, shows the best code, exemplars with their measurements as
 * diffs and the recent failures, and reads the memory profile saved in the run folder.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startRun } from '../../src/evolve/loop.ts';
import type { RunConfig } from '../../src/evolve/journal.ts';
import { baseline, evaluate } from './fixtures/loop-evaluator.ts';
import { crinn, expectBadInput } from '../cli/helpers.ts';

const cfg: RunConfig = { dataset: 'fixture', policy: 'autotune', stages: ['search', 'refine'], budget: { evals: 24 }, seed: 3, spread: 0, patience: 50, evaluator: {} };

describe('crinn prompt show', () => {
  it('prints the prompt for a module of a run; bad module and run are one-line errors', async () => {
    const run = path.join(mkdtempSync(path.join(tmpdir(), 'prompt-show-')), 'run');
    await startRun(run, cfg, { evaluate, baseline });
    writeFileSync(path.join(run, 'profile-loads.txt'), 'storage f32, uniform address: 9.1 Gdims/s\n');
    // As `crinn adapters --json` writes it; the verdicts name the adapter 'fixture'.
    writeFileSync(path.join(run, 'adapters.json'), JSON.stringify([{ name: 'other', features: [] }, { name: 'fixture', description: 'test adapter', subgroupMinSize: 8, subgroupMaxSize: 8, features: ['shader-f16', 'subgroups'], limits: { maxComputeWorkgroupStorageSize: 32768, maxBindGroups: 4 } }]));
    const r = crinn(['prompt', 'show', '--module', 'search', run]);
    expect(r.status, r.stderr).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/^======== system ========\nYou are a GPU performance engineer/);
    expect(out).toContain('======== user ========\n# Task: the search module');
    expect(out).toContain('- searchWidth: integer in [1, 8], default 1');
    expect(out).toContain('storage f32, uniform address: 9.1 Gdims/s');
    expect(out).toContain('Adapter:\nfixture (test adapter)\nfeatures: shader-f16, subgroups\nlimits: maxComputeWorkgroupStorageSize=32768, subgroupMinSize=8, subgroupMaxSize=8\n');
    expect(out).toMatch(/# The current best variant\n\nVariant [0-9a-f]{12} \(autotune\): reward \d\.\d{3}/);
    expect(out).toContain('```wgsl\n// search fixture kernel');
    expect(out.match(/## Exemplar \d: variant/g)).toHaveLength(4);
    expect(out).toContain('Code: same as the current best.');
    // The fixture fails its correctness stage at hashBits = 14; such failures are listed when present.
    expect(out).toMatch(/# Recent failures\n\n(\(none\)|- variant [0-9a-f]{12} \(autotune\), stage correctness)/);
    expect(out).toContain('First write the Analysis');
    const json = crinn(['prompt', 'show', '--module', 'refine', '--json', run]);
    expect(json.status, json.stderr).toBe(0);
    const messages = JSON.parse(json.stdout);
    expect(messages.map((m: { role: string }) => m.role)).toEqual(['system', 'user']);
    expect(messages[1].content).toContain('# Task: the refine module');
    expectBadInput(crinn(['prompt', 'show', '--module', 'graph', run]), `--module: run ${run} has no stage 'graph'`);
    expectBadInput(crinn(['prompt', 'show', '--module', 'nope', run]), "--module: unknown module 'nope'");
    expectBadInput(crinn(['prompt', 'show', '--module', 'search', path.join(run, 'missing')]), /not a run folder/);
  }, 120_000);
});
