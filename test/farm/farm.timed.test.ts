/**
 * The evaluation farm's queue mechanics on a real redis-server (password, free port) with real
 * `crinn worker` processes. These workers run the GPU-free fixture evaluator
 * (test/evolve/fixtures/loop-evaluator.ts, through the hidden --evaluator/--as-adapter): the tests
 * are about jobs, workers, faults and the journal, not about measurement. farm-real.timed.test.ts runs a
 * real sandboxed evaluation through a worker.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { readJournal, type JournalRecord } from '../../src/evolve/journal.ts';
import { FarmBackend } from '../../src/farm/backend.ts';
import { parseFarmUrl } from '../../src/farm/connection.ts';
import { FARM_CONTRACT, FARM_PREFIX, MAX_JOB_BYTES, PROJECT_VERSION, queueName, resultMac } from '../../src/farm/protocol.ts';
import type { EvaluationJob } from '../../src/evolve/backend.ts';
import { baseline } from '../evolve/fixtures/loop-evaluator.ts';
import type { Verdict } from '../../src/evolve/contract.ts';
import { variantHash } from '../../src/evolve/store.ts';
import { spawn } from 'node:child_process';
import { CLI, FIXTURE, NODE, RedisServer, crinn, queueFor, spawnWorker, until, type WorkerProc } from './farm-helpers.ts';

const redis = new RedisServer();
let client: Redis;
const workers: WorkerProc[] = [];
const tmp = () => mkdtempSync(path.join(tmpdir(), 'crinn-farm-'));

beforeAll(async () => {
  await redis.start(true);
  client = redis.client();
});
afterEach(async () => {
  for (const w of workers.splice(0)) if (w.proc.exitCode === null) { w.proc.kill('SIGKILL'); await w.exited; }
});
afterAll(async () => {
  client?.disconnect();
  await redis.destroy();
});

function worker(name: string, adapter: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): WorkerProc {
  const w = spawnWorker(redis.url, name, { adapter, extra, env });
  workers.push(w);
  return w;
}
const serving = (w: WorkerProc) => until(`worker serving (${w.output()})`, () => w.output().includes('queue eval-'));
const verdicts = (rs: JournalRecord[]) => rs.filter((r): r is Extract<JournalRecord, { type: 'verdict' }> => r.type === 'verdict');
const optimizeArgs = (runDir: string, adapters: string, budget: number) => [
  'optimize', '--farm', redis.url, '--adapters', adapters, '--evaluator', FIXTURE, '--dataset', 'fixture', '--stages', 'search', '--budget', String(budget), '--spread', '0.05', '--run-dir', runDir,
];

/** Every journaled verdict names a job completed in Redis, once; Redis completed no job the journal lacks. */
async function expectJournalMatchesRedis(runDir: string, adapters: string[]): Promise<void> {
  const vs = verdicts(readJournal(runDir).records);
  const journalJobs = vs.map((v) => v.job);
  expect(journalJobs.every((j) => typeof j === 'string')).toBe(true);
  expect(new Set(journalJobs).size).toBe(journalJobs.length);
  const redisJobs: string[] = [];
  for (const a of adapters) {
    const q = queueFor(client, a);
    for (const j of await q.getJobs(['completed'])) if (j.id!.includes(path.basename(runDir))) redisJobs.push(j.id!);
    await q.close();
  }
  expect(redisJobs.sort()).toEqual([...(journalJobs as string[])].sort());
}

describe('evaluation farm (real redis-server, crinn worker processes, fixture evaluator)', () => {
  it('one run tunes two adapters on two workers, one bundle per adapter; journal and Redis agree', async () => {
    const wa = worker('wa', 'fake-a');
    const wb = worker('wb', 'fake-b');
    await Promise.all([serving(wa), serving(wb)]);
    const runDir = path.join(tmp(), 'two-adapters');
    const r = await crinn(optimizeArgs(runDir, 'fake-a,fake-b', 4));
    expect(r.code, r.out).toBe(0);
    const { records } = readJournal(runDir);
    const start = records[0] as Extract<JournalRecord, { type: 'run-start' }>;
    expect(start.config.farm).toEqual({ adapters: ['fake-a', 'fake-b'] });
    const vs = verdicts(records);
    // The budget applies per adapter; each verdict came from the worker of its lane.
    expect(vs.filter((v) => v.lane === 'fake-a').map((v) => v.worker)).toEqual(['wa', 'wa', 'wa', 'wa']);
    expect(vs.filter((v) => v.lane === 'fake-b').map((v) => v.worker)).toEqual(['wb', 'wb', 'wb', 'wb']);
    await expectJournalMatchesRedis(runDir, ['fake-a', 'fake-b']);
    const out = path.join(tmp(), 'bundles');
    const [e, rep] = await Promise.all([crinn(['export', runDir, '--out', out, '--no-describe']), crinn(['runs', 'report', runDir, '--out', path.join(tmp(), 'r.html')])]);
    expect(e.code, e.out).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['fake-a--fixture', 'fake-b--fixture']);
    for (const a of ['fake-a', 'fake-b']) expect(JSON.parse(readFileSync(path.join(out, `${a}--fixture`, 'manifest.json'), 'utf8')).adapter.name).toBe(a);
    expect(rep.code, rep.out).toBe(0);
    expect(rep.out).toMatch(/wa\s+fake-a\s+4/);
    expect(rep.out).toMatch(/wb\s+fake-b\s+4/);
  }, 60_000);

  it('kill -9 of a worker mid-job: the job finishes on the other worker of the adapter, counted once', async () => {
    const log = path.join(tmp(), 'finished.log');
    const env = { LOOP_FIXTURE_DELAY_MS: '2000', LOOP_FIXTURE_LOG: log };
    // Short locks so a dead worker's job is seen stalled in ~2 s (BullMQ's stalled-job check).
    const fast = ['--lock-ms', '1500', '--stalled-ms', '500'];
    const k1 = worker('k1', 'fake-k', fast, env);
    const k2 = worker('k2', 'fake-k', fast, env);
    await Promise.all([serving(k1), serving(k2)]);
    const runDir = path.join(tmp(), 'kill');
    const run = crinn(optimizeArgs(runDir, 'fake-k', 3));
    await until('a job started', () => /job \S+: search/.test(k1.output() + k2.output()));
    const victim = /job \S+: search/.test(k1.output()) ? k1 : k2;
    const survivor = victim === k1 ? k2 : k1;
    const killedJob = /job (\S+): search/.exec(victim.output())![1];
    victim.proc.kill('SIGKILL');
    const r = await run;
    expect(r.code, r.out).toBe(0);
    const vs = verdicts(readJournal(runDir).records);
    expect(vs).toHaveLength(3);
    expect(vs.every((v) => v.verdict.status === 'ok')).toBe(true);
    // The killed worker's job was run again by the survivor and journaled once.
    expect(vs.filter((v) => v.job === killedJob).map((v) => v.worker)).toEqual([survivor === k1 ? 'k1' : 'k2']);
    expect(survivor.output()).toContain(`job ${killedJob}: ok`);
    // Evaluations that finished: the three journaled, none from the killed worker.
    expect(readFileSync(log, 'utf8').trim().split('\n')).toHaveLength(3);
    await expectJournalMatchesRedis(runDir, ['fake-k']);
  }, 60_000);

  it('kill -9 of the parent mid-job, then crinn resume --farm: it reattaches to the job (finished meanwhile), none run twice', async () => {
    const log = path.join(tmp(), 'finished.log');
    const w = worker('p1', 'fake-p', [], { LOOP_FIXTURE_DELAY_MS: '2000', LOOP_FIXTURE_LOG: log });
    await serving(w);
    const runDir = path.join(tmp(), 'parent-kill');
    const parent = spawn(NODE, [CLI, ...optimizeArgs(runDir, 'fake-p', 3)], { env: { ...process.env, CRINN_STDERR_FILTERED: '1', CRINN_FARM_POLL_MS: '100' }, stdio: 'ignore' });
    const parentGone = new Promise((r) => parent.once('exit', r));
    await until('the second job started', () => /job \S+\.search\.1: search/.test(w.output()));
    parent.kill('SIGKILL');
    await parentGone;
    // The worker finishes the job with no parent waiting; the journal has no verdict for it yet.
    await until('the orphaned job finished', () => /job \S+\.search\.1: ok/.test(w.output()));
    expect(verdicts(readJournal(runDir).records)).toHaveLength(1);
    const r = await crinn(['resume', runDir, '--farm', redis.url, '--evaluator', FIXTURE]);
    expect(r.code, r.out).toBe(0);
    expect(verdicts(readJournal(runDir).records)).toHaveLength(3);
    // Three evaluations ran in all: the orphaned one was picked up from Redis, not run again.
    expect(readFileSync(log, 'utf8').trim().split('\n')).toHaveLength(3);
    await expectJournalMatchesRedis(runDir, ['fake-p']);
  }, 60_000);

  it('redis-server killed and restarted mid-run (append-only file): the run finishes, nothing lost or counted twice', async () => {
    const w = worker('r1', 'fake-r', [], { LOOP_FIXTURE_DELAY_MS: '1000' });
    await serving(w);
    const runDir = path.join(tmp(), 'restart');
    const run = crinn(optimizeArgs(runDir, 'fake-r', 3));
    await until('the first verdict', () => existsSync(path.join(runDir, 'journal.jsonl')) && verdicts(readJournal(runDir).records).length >= 1);
    await redis.stop();
    await new Promise((x) => setTimeout(x, 1000));
    await redis.start(true);
    const r = await Promise.race([run, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`run still going after the restart; worker: ${w.output()}`)), 40_000))]);
    expect(r.code, r.out).toBe(0);
    expect(verdicts(readJournal(runDir).records)).toHaveLength(3);
    await expectJournalMatchesRedis(runDir, ['fake-r']);
  }, 60_000);

  it('redis-server restarted empty (no persistence) mid-run: lost jobs are submitted again, each journaled once', async () => {
    const log = path.join(tmp(), 'finished.log');
    // The evaluations after the first hold at a gate (the fixture's LOOP_FIXTURE_GATE): Redis goes
    // while the second job is surely in flight, however loaded the machine (a fixed 4 s delay
    // could let it finish first, or let Redis go before the job was taken).
    const gate = path.join(tmp(), 'gate');
    const w = worker('n1', 'fake-n', [], { LOOP_FIXTURE_LOG: log, LOOP_FIXTURE_GATE: gate });
    await serving(w);
    const runDir = path.join(tmp(), 'restart-empty');
    const run = crinn(optimizeArgs(runDir, 'fake-n', 3));
    await until('the second job in flight', () => existsSync(`${gate}.waiting`));
    await redis.stop();
    rmSync(path.join(redis.dir, 'appendonlydir'), { recursive: true, force: true });
    await redis.start(false);
    writeFileSync(gate, '');
    const r = await Promise.race([run, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`run still going after the restart; worker: ${w.output()}`)), 40_000))]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/is gone from Redis \(restarted without persistence\?\): submitting it again/);
    const vs = verdicts(readJournal(runDir).records);
    expect(vs).toHaveLength(3);
    expect(new Set(vs.map((v) => v.index)).size).toBe(3);
    // The job lost with Redis ran again (at least 3 evaluations finished), yet each proposal has one verdict.
    expect(readFileSync(log, 'utf8').trim().split('\n').length).toBeGreaterThanOrEqual(3);
  }, 60_000);

  it('a worker of another contract version is not counted: the parent refuses to start without one of its own', async () => {
    const bad = worker('v2', 'fake-v', ['--contract', '2']);
    await serving(bad);
    const runDir = path.join(tmp(), 'v');
    const r = await crinn(optimizeArgs(runDir, 'fake-v', 1));
    expect(r.code).toBe(1);
    expect(r.out).toContain(`ignored 1 worker(s) of another version (crinn ${PROJECT_VERSION} contract 2; this is crinn ${PROJECT_VERSION} contract ${FARM_CONTRACT})`);
    expect(existsSync(runDir)).toBe(false);
  }, 30_000);

  it('a worker refuses a job of another contract version: the job is put back, the worker stops naming both versions', async () => {
    const w = worker('v1', 'fake-w');
    await serving(w);
    const q = queueFor(client, 'fake-w');
    await q.add('evaluate', { contract: FARM_CONTRACT + 1, project: PROJECT_VERSION, id: 'newer' }, { jobId: 'newer' });
    const code = await w.exited;
    expect(code).toBe(1);
    expect(w.output()).toContain(`farm contract ${FARM_CONTRACT + 1}), this worker runs crinn ${PROJECT_VERSION} (contract ${FARM_CONTRACT})`);
    // Not failed, not lost: waiting (or delayed) for a worker that speaks its version.
    expect(['delayed', 'waiting']).toContain(await (await q.getJob('newer'))!.getState());
    await q.close();
  }, 30_000);

  it('malformed, oversized and sandbox-loosening jobs fail naming the field; the worker goes on', async () => {
    const w = worker('m1', 'fake-m');
    await serving(w);
    const q = queueFor(client, 'fake-m');
    const good = { contract: FARM_CONTRACT, project: PROJECT_VERSION };
    await q.add('evaluate', { ...good, id: 'garbage', module: 'nope' }, { jobId: 'garbage' });
    await q.add('evaluate', { ...good, id: 'huge', pad: 'x'.repeat(MAX_JOB_BYTES + 10) }, { jobId: 'huge' });
    const runKey = Buffer.alloc(32, 7);
    const backend = await FarmBackend.open({ url: parseFarmUrl(redis.url), runKey, datasetFingerprint: null, pollMs: 100 });
    const job = await fixtureJob('search', 'fake-m', 'loosen');
    const loosened = { ...backend.payload(job, null), settings: { childEntry: '/tmp/evil.ts' } };
    await q.add('evaluate', loosened, { jobId: loosened.id });
    const failed = async (id: string) => (await q.getJob(id))?.failedReason ?? '';
    await until('three failures', async () => (await failed('garbage')) !== '' && (await failed('huge')) !== '' && (await failed(loosened.id)) !== '');
    expect(await failed('garbage')).toMatch(/malformed job garbage: .*(secret|module)/);
    expect(await failed('huge')).toContain(`over the farm's limit of ${MAX_JOB_BYTES}`);
    expect(await failed(loosened.id)).toMatch(/settings: Unrecognized key.*childEntry/i);
    // Still serving: a valid job gets its verdict.
    const ok = await backend.submit(await fixtureJob('search', 'fake-m', 'after'));
    expect(ok.verdict.status).toBe('ok');
    expect(ok.worker).toBe('m1');
    // The parent refuses to send an oversized variant: the variant's failure at load, nothing queued.
    const big = await fixtureJob('search', 'fake-m', 'big', 'x'.repeat(MAX_JOB_BYTES));
    const r = await backend.submit(big);
    expect(r.verdict).toMatchObject({ status: 'failed', stage: 'load' });
    expect(r.verdict.reason).toContain(`over the farm's limit of ${MAX_JOB_BYTES}`);
    expect(await q.getJob(backend.farmId(big.id))).toBeUndefined();
    await backend.close();
    await q.close();
  }, 60_000);

  it('a forged verdict (wrong MAC, another job id, another variant) is refused; an honest one is accepted', async () => {
    const backend = await FarmBackend.open({ url: parseFarmUrl(redis.url), runKey: Buffer.alloc(32, 9), datasetFingerprint: null, pollMs: 100 });
    let mode = 'mac';
    // A rogue worker: a plain BullMQ worker on the adapter's queue, no crinn code.
    const rogue = new Worker(queueName('fake-f'), async (job) => {
      const d = job.data as { id: string; secret: string; variant: { hash: string } };
      const v = { ...FAKE_VERDICT, variantHash: mode === 'variant' ? '0'.repeat(64) : d.variant.hash };
      const jobId = mode === 'id' ? `${d.id}-other` : d.id;
      const mac = mode === 'honest' || mode === 'id' || mode === 'variant' ? resultMac(d.secret, jobId, v.variantHash, 'fake-f', v) : 'ab'.repeat(32);
      return { contract: FARM_CONTRACT, jobId, worker: 'rogue', adapter: 'fake-f', verdict: v, mac };
    }, { connection: client.duplicate(), prefix: FARM_PREFIX });
    try {
      for (const [m, why] of [['mac', /MAC does not match/], ['id', /names job .*-other/], ['variant', /verdict is for variant 000000000000/]] as const) {
        mode = m;
        await expect(backend.submit(await fixtureJob('search', 'fake-f', `forged-${m}`))).rejects.toThrow(why);
      }
      mode = 'honest';
      expect((await backend.submit(await fixtureJob('search', 'fake-f', 'honest'))).worker).toBe('rogue');
    } finally {
      await rogue.close();
      await backend.close();
    }
  }, 30_000);

  it('Redis without a password is refused unless --insecure; a wrong password fails in one line', async () => {
    expect(() => parseFarmUrl('redis://127.0.0.1:6379')).toThrow(/--farm: the URL carries no password.*--insecure/);
    expect(parseFarmUrl('redis://127.0.0.1:6379', { insecure: true }).password).toBeUndefined();
    expect(() => parseFarmUrl('http://x:1')).toThrow(/--farm: expected redis:\/\//);
    const wrong = `redis://:nope@127.0.0.1:${redis.port}`;
    await expect(FarmBackend.open({ url: parseFarmUrl(wrong), runKey: Buffer.alloc(32), datasetFingerprint: null })).rejects.toThrow(/not reachable: .*(WRONGPASS|invalid).*wrong or missing password/);
    const r = await crinn(['worker', '--farm', `redis://127.0.0.1:${redis.port}`, '--as-adapter', 'x', '--evaluator', FIXTURE]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('the URL carries no password');
  }, 30_000);
});

/** A fixture search job for `lane` (its variant's file padded by `pad` to test size limits). */
async function fixtureJob(module: 'search', lane: string, id: string, pad = ''): Promise<EvaluationJob> {
  const b = await baseline(module);
  const files = b.files.map((f) => ({ ...f, content: Buffer.concat([f.content, Buffer.from(pad)]) }));
  return {
    id: `t${process.pid}-${id}`, lane, module, variant: { hash: variantHash(files, b.variant.knobValues), variant: b.variant, files }, context: {},
    dataset: 'fixture', seed: 1, bestSoFar: null, settings: {},
  };
}

/** A made-up verdict a rogue worker returns (schema-valid: the MAC, not the schema, must catch it). */
const FAKE_VERDICT: Verdict = {
  status: 'ok', stage: 'reward', reason: 'made up', module: 'search', variantHash: '', dataset: 'fixture', adapter: 'fake-f',
  variantAuc: 9000, baselineAuc: 1000, reward: 9, qpsAt90: null, qpsAt95: null, qpsAt99: null, evaluationsAt95: null, variantCurve: [], baselineCurve: [], seconds: 1,
};
