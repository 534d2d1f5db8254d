/**
 * Bad input to the loop's commands (optimize, resume, runs, variant, evaluate's readers, bench
 * compare, search): one line naming the flag or file, exit 1, never a hang, a raw errno or a
 * special file replaced by a regular one; inputs byte-identical afterwards. The run comes from the
 * fixture evaluator (no GPU).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../data/helpers.ts';
import { crinn, expectBadInput, sha, writeRows } from './helpers.ts';

const FIXTURE = path.resolve(import.meta.dirname, '../evolve/fixtures/loop-evaluator.ts');
const { dir, cleanup } = tempDir('crinn-cli-loop-');
const p = (name: string) => path.join(dir, name);
const optimize = (...args: string[]) => crinn(['optimize', '--evaluator', FIXTURE, '--stages', 'search', '--budget', '2', '--quiet', ...args], { timeout: 30_000 });
let run = '';

beforeAll(() => {
  run = p('run');
  const r = optimize('--run-dir', run);
  expect(r.status, r.stderr).toBe(0);
}, 60_000);
afterAll(cleanup);

describe('runs report --out goes through the shared output checks', () => {
  it('a device, a FIFO or a run file as --out is refused; the device stays a device, the FIFO a FIFO', () => {
    const journal = path.join(run, 'journal.jsonl');
    const before = sha(journal);
    // A private null device (c 1 3), never the system's /dev/null: a regression would replace it for everyone.
    const dev = p('null-device');
    let made = false;
    try {
      execFileSync('mknod', ['-m', '666', dev, 'c', '1', '3'], { stdio: 'ignore' });
      made = true;
    } catch {
      // not root: the FIFO below still covers a non-regular output
    }
    if (made) {
      expectBadInput(crinn(['runs', 'report', run, '--out', dev]), '--out', dev, 'not a regular file');
      expect(statSync(dev).isCharacterDevice()).toBe(true);
    }
    const fifo = p('report.fifo');
    execFileSync('mkfifo', [fifo]);
    expectBadInput(crinn(['runs', 'report', run, '--out', fifo], { timeout: 20_000 }), '--out', fifo, 'not a regular file');
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    expectBadInput(crinn(['runs', 'report', run, '--out', journal]), '--out', 'same file as the input');
    expectBadInput(crinn(['runs', 'report', run, '--out', '/proc/crinn-report.html']), '--out', '/proc');
    expect(sha(journal)).toBe(before);
  });
});

describe('numbers are range-checked when the flags are parsed', () => {
  it('--budget 99999999999999999999 and 2^53+1, --seed 2^53+1, --patience 2^53+1: one line each, nothing created', () => {
    const out = p('never');
    for (const [flag, value, want] of [
      ['--budget', '99999999999999999999', '1 to 1000000 evaluations'],
      ['--budget', '9007199254740993', '1 to 1000000 evaluations'],
      ['--budget', '99999999999999999999h', 'a duration up to 8760h'],
      ['--seed', '9007199254740993', 'from 0 to 4294967295'],
      ['--patience', '9007199254740993', 'up to 9007199254740991'],
    ]) {
      const line = expectBadInput(crinn(['optimize', '--evaluator', FIXTURE, '--run-dir', out, flag, value]), flag, `'${value}'`, want);
      expect(line).not.toMatch(/[[{]/); // never a raw zod issue array
    }
    expect(existsSync(out)).toBe(false);
  });
});

describe('run folders: one line naming the flag, never a raw errno or a busy loop', () => {
  it('--run-dir under /proc fails at once; on a file, or below one, names the file', () => {
    const t0 = Date.now();
    expectBadInput(crinn(['optimize', '--evaluator', FIXTURE, '--run-dir', '/proc/crinn-run'], { timeout: 20_000 }), '--run-dir', '/proc/crinn-run', 'pseudo file system');
    expect(Date.now() - t0).toBeLessThan(15_000);
    const file = p('plain-file');
    writeFileSync(file, 'x');
    expectBadInput(crinn(['optimize', '--evaluator', FIXTURE, '--run-dir', file]), '--run-dir', `${file} exists and is not a folder`);
    expectBadInput(crinn(['optimize', '--evaluator', FIXTURE, '--run-dir', path.join(file, 'run')]), '--run-dir', `${file} is not a folder`);
    expect(readFileSync(file, 'utf8')).toBe('x');
  });

  it('variant init --out and export --out under /proc or below a file', () => {
    expectBadInput(crinn(['variant', 'init', '--module', 'search', '--out', '/proc/x']), '--out', '/proc/x', 'pseudo file system');
    expectBadInput(crinn(['export', run, '--no-describe', '--out', '/proc/crinn-bundle']), '--out', '/proc/crinn-bundle', 'pseudo file system');
    const file = p('plain-file2');
    writeFileSync(file, 'x');
    expectBadInput(crinn(['variant', 'init', '--module', 'search', '--out', path.join(file, 'v')]), '--out', `${file} is not a folder`);
  });

  it('runs list --dir: a missing folder or a file is an error naming it, not "no runs"', () => {
    expectBadInput(crinn(['runs', 'list', '--dir', p('does-not-exist')]), '--dir', p('does-not-exist'), 'does not exist');
    const file = p('plain-file3');
    writeFileSync(file, 'x');
    expectBadInput(crinn(['runs', 'list', '--dir', file]), '--dir', file, 'is not a folder');
    const r = crinn(['runs', 'list', '--dir', dir]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('run');
  });

  it('a journal.jsonl that is a folder or a FIFO: one line naming it (runs show, resume), no hang', () => {
    const bad = p('bad-run');
    mkdirSync(path.join(bad, 'journal.jsonl'), { recursive: true });
    expectBadInput(crinn(['runs', 'show', bad]), path.join(bad, 'journal.jsonl'), 'is a directory');
    expectBadInput(crinn(['resume', bad, '--evaluator', FIXTURE]), path.join(bad, 'journal.jsonl'), 'is a directory');
    const fifoRun = p('fifo-run');
    mkdirSync(fifoRun);
    execFileSync('mkfifo', [path.join(fifoRun, 'journal.jsonl')]);
    expectBadInput(crinn(['runs', 'show', fifoRun], { timeout: 20_000 }), path.join(fifoRun, 'journal.jsonl'), 'FIFO');
  });
});

describe('resume checks the journal against its verdicts', () => {
  it("a run-start edited to another dataset than its verdicts' is refused naming the journal; the journal is unchanged", () => {
    const edited = p('edited-run');
    cpSync(run, edited, { recursive: true });
    const journal = path.join(edited, 'journal.jsonl');
    writeFileSync(journal, readFileSync(journal, 'utf8').replace('"dataset":"siftsmall-5k"', '"dataset":"glove-50-5k"'));
    const before = sha(journal);
    expectBadInput(crinn(['resume', edited, '--evaluator', FIXTURE]), journal, "dataset 'glove-50-5k'", "measured on 'siftsmall-5k'");
    expectBadInput(crinn(['runs', 'show', edited]), journal, 'glove-50-5k');
    expect(sha(journal)).toBe(before);
  });
});

describe('one reader check: FIFOs and devices are refused before they are opened', () => {
  it('bench compare FIFO, search --index /dev/zero, --llm-config FIFO: one line, no hang', async () => {
    const fifo = p('result.fifo');
    execFileSync('mkfifo', [fifo]);
    expectBadInput(crinn(['bench', 'compare', fifo], { timeout: 20_000 }), fifo, 'FIFO');
    expectBadInput(crinn(['optimize', '--policy', 'llm', '--llm-config', fifo, '--evaluator', FIXTURE, '--run-dir', p('llm-run')], { timeout: 20_000, env: { OPENAI_API_KEY: 'k' } }), fifo, 'FIFO');
    expect(existsSync(p('llm-run'))).toBe(false);
    const q = await writeRows(p('q.fvecs'), 3, 4, 1);
    expectBadInput(crinn(['search', '--index', '/dev/zero', '--queries', q, '--out', p('r.ivecs')], { timeout: 20_000 }), '/dev/zero', 'character device');
    expectBadInput(crinn(['search', '--index', '/proc/self/status', '--queries', q, '--out', p('r.ivecs')], { timeout: 20_000 }), '/proc/self/status', 'pseudo file system');
    expect(existsSync(p('r.ivecs'))).toBe(false);
  });
});
