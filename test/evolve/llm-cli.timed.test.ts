/**
 * `crinn optimize --policy llm` as a user runs it: the real CLI in a child process, the fixture
 * evaluator (no GPU), a real local chat-completions server as the model. A missing key is one line
 * and leaves no run folder behind.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crinn, expectBadInput, mainTs, nodeBin } from '../cli/helpers.ts';
import { startFakeServer, type FakeServer } from './llm-fake-server.ts';

const FIXTURE = path.resolve(import.meta.dirname, 'fixtures/loop-evaluator.ts');
let server: FakeServer | undefined;
afterEach(async () => { await server?.close(); server = undefined; });

function run(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const { OPENAI_API_KEY: _k, OPENAI_BASE_URL: _u, CRINN_LLM_MODEL: _m, ...rest } = process.env;
    const child = spawn(nodeBin, [mainTs, ...args], { env: { ...rest, CRINN_STDERR_FILTERED: '1', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('crinn optimize --policy llm', () => {
  it('runs against an OpenAI-compatible endpoint and writes journal, ledger and trajectories', async () => {
    server = await startFakeServer((body) => ({ reply: `## Analysis\nA wider search reaches the recall window with fewer iterations here.\n\n## Strategy\nSearch width ${2 + (body.seed % 1000)}.\n\n## Knobs\n\`\`\`json\n{"searchWidth": ${2 + (body.seed % 1000)}}\n\`\`\`\n` }));
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'llm-cli-')), 'run');
    const r = await run(['optimize', '--policy', 'llm', '--stages', 'search', '--budget', '3', '--run-dir', dir, '--evaluator', FIXTURE, '--quiet'],
      { OPENAI_BASE_URL: server.url, OPENAI_API_KEY: 'k', CRINN_LLM_MODEL: 'scripted' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/search\s+3\s+0/);
    const journal = readFileSync(path.join(dir, 'journal.jsonl'), 'utf8');
    expect(journal).toContain('"policy":"llm"');
    expect(journal).not.toContain('"apiKey"');
    expect(journal.match(/"origin":"llm"/g)!.length).toBeGreaterThanOrEqual(2);
    const rows = readFileSync(path.join(dir, 'trajectories.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    // The default group is 4 samples; the budget leaves room for 2: only evaluated samples become rows.
    expect(server.requests).toHaveLength(4);
    expect(rows.map((x) => [x.sample, x.status, x.stage])).toEqual([[0, 'ok', 'reward'], [1, 'ok', 'reward']]);
    expect(rows[1].reward).toBeGreaterThan(rows[0].reward);
    expect(rows[1].advantage).toBeCloseTo(1, 12);
    expect(server.requests[0].auth).toBe('Bearer k');
  }, 120_000);

  it('an endpoint that accepts and never answers: waiting lines with the elapsed time on stderr, then the session stops resumably naming the timeout', async () => {
    server = await startFakeServer(() => ({ hangMs: 3_600_000 }));
    const tmp = mkdtempSync(path.join(tmpdir(), 'llm-cli-'));
    const cfg = path.join(tmp, 'llm.json');
    writeFileSync(cfg, JSON.stringify({ timeoutMs: 2500, waitNoticeMs: 1000 }));
    const dir = path.join(tmp, 'run');
    const t0 = Date.now();
    const r = await run(['optimize', '--policy', 'llm', '--llm-config', cfg, '--stages', 'search', '--budget', '3', '--run-dir', dir, '--evaluator', FIXTURE],
      { OPENAI_BASE_URL: server.url, OPENAI_API_KEY: 'k', CRINN_LLM_MODEL: 'scripted' });
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(r.status, r.stderr).toBe(0);
    const waits = r.stderr.split('\n').filter((l) => l.startsWith('crinn: waiting for the LLM at'));
    expect(waits.length, r.stderr).toBeGreaterThanOrEqual(2);
    expect(waits[0]).toMatch(/\(model scripted\): 4 requests in flight, the oldest for \d+ s \(timeout 3 s\)$/);
    expect(r.stdout).toMatch(/stopped: LLM endpoint failed for every sample: .*timeout.*after 1 attempts; continue with `crinn resume/);
    // Four samples, one attempt each: timeouts are not retried by default.
    expect(server.requests).toHaveLength(4);
  }, 60_000);

  it('a missing key is a one-line error naming the variable, and nothing is written', () => {
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'llm-cli-')), 'run');
    const { OPENAI_API_KEY: _k, ...rest } = process.env;
    const r = crinn(['optimize', '--policy', 'llm', '--run-dir', dir, '--evaluator', FIXTURE], { env: { ...rest as Record<string, string>, OPENAI_API_KEY: '', CRINN_LLM_MODEL: 'm' } });
    expectBadInput(r, /^crinn: OPENAI_API_KEY: not set/);
    expect(existsSync(dir)).toBe(false);
    expectBadInput(crinn(['optimize', '--policy', 'gpt', '--run-dir', dir]), "--policy: unknown policy 'gpt'; allowed: autotune, llm, mixed, auto");
  }, 60_000);
});
