/** Spawns the real CLI (Node 22 from node_modules; no stderr-filter relaunch, which only doubles start-up) on small synthetic files. */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { repoRoot } from '../data/helpers.ts';
import { writeFvecs } from '../../src/data/vecs.ts';
import type { VectorSet } from '../../src/data/types.ts';

export const nodeBin = path.join(repoRoot, 'node_modules/.bin/node');
export const mainTs = path.join(repoRoot, 'src/cli/main.ts');

export function crinn(args: string[], opts: { env?: Record<string, string>; timeout?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync(nodeBin, [mainTs, ...args], { encoding: 'utf8', timeout: opts.timeout ?? 60_000, env: { ...process.env, CRINN_STDERR_FILTERED: '1', ...opts.env } });
}

/** What a finished CLI run leaves: spawnSync's fields the checks read. */
export type CliResult = Pick<SpawnSyncReturns<string>, 'status' | 'signal' | 'stdout' | 'stderr' | 'error'>;

/**
 * spawnSync's result without blocking the test worker, so that independent runs (Promise.all, or
 * the tests of a describe.concurrent) overlap their Node start-ups (~1 s of CPU each) on both cores.
 * A run past `timeout` is killed and has `error` set, as spawnSync does.
 */
export function spawnCli(file: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeout?: number; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let error: Error | undefined;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      error = new Error(`${args.join(' ')}: timed out after ${opts.timeout} ms`);
      child.kill('SIGTERM');
    }, opts.timeout ?? 60_000);
    child.on('error', (err) => (error ??= err));
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, error });
    });
  });
}

/** `crinn` without blocking: see spawnCli. */
export function crinnAsync(args: string[], opts: { env?: Record<string, string>; timeout?: number } = {}): Promise<CliResult> {
  return spawnCli(nodeBin, [mainTs, ...args], { timeout: opts.timeout ?? 60_000, env: { ...process.env, CRINN_STDERR_FILTERED: '1', ...opts.env } });
}

/** Exit 1 with exactly one `crinn:` line on stderr, matching every pattern. */
export function expectBadInput(r: CliResult, ...patterns: (string | RegExp)[]): string {
  expect(r.error, 'the command did not finish').toBeUndefined();
  expect(r.status, `stderr: ${r.stderr}\nstdout: ${r.stdout}`).toBe(1);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('crinn:'));
  expect(lines, r.stderr).toHaveLength(1);
  for (const p of patterns) {
    if (typeof p === 'string') expect(lines[0]).toContain(p);
    else expect(lines[0]).toMatch(p);
  }
  return lines[0];
}

/** Seeded uniform rows in [-scale, scale). */
export function randomRows(n: number, dim: number, seed: number, scale = 1): VectorSet {
  let s = seed >>> 0 || 1;
  const data = new Float32Array(n * dim);
  for (let i = 0; i < data.length; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    data[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return { data, n, dim };
}

export async function writeRows(file: string, n: number, dim: number, seed: number, scale = 1): Promise<string> {
  await writeFvecs(file, randomRows(n, dim, seed, scale));
  return file;
}

export function sha(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}
