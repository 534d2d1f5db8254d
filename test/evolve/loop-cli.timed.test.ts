/** Bad input to crinn optimize / resume / runs / export: one line naming the flag or file, exit 1, nothing written. */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseBudget, parseStages } from '../../src/cli/commands/optimize.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const NODE = path.join(ROOT, 'node_modules/.bin/node');
const FIXTURE = path.join(ROOT, 'test/evolve/fixtures/loop-evaluator.ts');

function crinn(...args: string[]) {
  return spawnSync(NODE, ['src/cli/main.ts', ...args], { cwd: ROOT, env: { ...process.env, CRINN_STDERR_FILTERED: '1', CRINN_RUNS_DIR: path.join(tmpdir(), 'crinn-no-runs') }, encoding: 'utf8', timeout: 60_000 });
}

describe('crinn optimize: options', () => {
  it('parses budgets and stages', () => {
    expect(parseBudget('40')).toEqual({ evals: 40 });
    expect(parseBudget('5m')).toEqual({ seconds: 300 });
    expect(parseBudget('40,1.5h')).toEqual({ evals: 40, seconds: 5400 });
    expect(() => parseBudget('0')).toThrow(/--budget/);
    expect(() => parseBudget('5 min')).toThrow(/--budget: expected/);
    expect(parseStages('refine,graph')).toEqual(['graph', 'refine']);
    expect(() => parseStages('graph,serch')).toThrow(/--stages: unknown stage 'serch'/);
  });

  it('bad input: one line, exit 1, no run folder left', () => {
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'crinn-cli-')), 'run');
    for (const [args, msg] of [
      [['--budget', 'soon'], /^crinn: --budget: expected/],
      [['--stages', 'search,search'], /^crinn: --stages: 'search,search' names a stage twice/],
      [['--policy', 'grid'], /^crinn: --policy: unknown policy 'grid'/],
      [['--spread', '2'], /^crinn: --spread: expected/],
      [['--seed', '-1'], /^crinn: --seed: expected a non-negative integer/],
    ] as const) {
      const r = crinn('optimize', '--evaluator', FIXTURE, '--run-dir', dir, ...args);
      expect(r.status).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(msg);
      expect(existsSync(dir)).toBe(false);
    }
  });

  it('refuses a non-empty --run-dir, pointing at resume when it holds a run', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'crinn-cli-'));
    writeFileSync(path.join(dir, 'journal.jsonl'), '');
    const r = crinn('optimize', '--evaluator', FIXTURE, '--run-dir', dir, '--budget', '2');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--run-dir: .* is not empty; continue it with `crinn resume/);
    expect(readdirSync(dir)).toEqual(['journal.jsonl']);
  });

  it('resume / runs show / export of a folder that is no run', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'crinn-cli-'));
    mkdirSync(path.join(dir, 'x'));
    for (const args of [['resume', path.join(dir, 'x')], ['runs', 'show', path.join(dir, 'x')], ['export', path.join(dir, 'x'), '--no-describe']]) {
      const r = crinn(...args);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^crinn: .*x: not a run folder \(no journal\.jsonl/);
    }
    expect(crinn('runs', 'list', '--dir', dir).stdout.trim()).toBe('no runs');
  });
});

describe('crinn optimize: dataset', () => {
  it('an unknown dataset fails before the run folder exists', () => {
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'crinn-cli-')), 'run');
    const r = crinn('optimize', '--dataset', 'nosuch-set', '--run-dir', dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^crinn: unknown dataset 'nosuch-set'/);
    expect(existsSync(dir)).toBe(false);
  });
});
