/**
 * The loop's EvaluationBackend on a farm (`crinn optimize --farm URL`): each job goes to its
 * adapter's BullMQ queue under the proposal's stable id, and the parent polls its state until a
 * worker has answered. Polling, not events, so a Redis restart or a lost job is seen: a job that
 * vanished (a Redis restarted without persistence) is submitted again under the same id, and a
 * resumed run finds the job of an evaluation that was in flight (still waiting, running, or done
 * while no parent was there) by that id instead of starting it twice. The result must pass the
 * schema and the job's MAC (protocol.ts); a forged one is refused, naming why.
 */
import { createHash } from 'node:crypto';
import { Queue, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { EvaluationBackend, EvaluationJob, JobResult, VariantRef } from '../evolve/backend.ts';
import type { Verdict } from '../evolve/contract.ts';
import { UserError } from '../errors.ts';
import { connect, ping, type FarmUrl } from './connection.ts';
import {
  FARM_CONTRACT, FARM_PREFIX, MAX_JOB_BYTES, PROJECT_VERSION, WORKER_KEY_PREFIX, farmResultSchema, farmSettingsSchema, issuesText, jobSecret, macEquals, queueName, resultMac, workerInfoSchema,
  type FarmJob, type WorkerInfo, type WireVariant,
} from './protocol.ts';

export interface FarmBackendOptions {
  url: FarmUrl;
  /** The run's key (RUN/farm.key): job secrets derive from it (useRunKey once the run folder exists). */
  runKey: Buffer;
  /** The dataset's content fingerprint, checked by each worker (null: the worker loads the name unchecked). */
  datasetFingerprint: string | null;
  pollMs?: number;
  /** How long a job may wait past its deadline for a worker before it is withdrawn (void, deadline). */
  graceMs?: number;
  /** A note while waiting (no worker, Redis away, a job resubmitted). */
  onNote?: (line: string) => void;
}

/** Finished jobs stay in Redis a week: a resumed run finds what finished meanwhile, and the journal can be checked against them. */
const KEEP = { age: 7 * 24 * 3600 };

/** Live workers (their keys expire when they stop), each with its adapter and versions. */
export async function listWorkers(redis: Redis): Promise<WorkerInfo[]> {
  const out: WorkerInfo[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${WORKER_KEY_PREFIX}*`, 'COUNT', 200);
    cursor = next;
    const values = keys.length ? await redis.mget(...keys) : [];
    for (const v of values) {
      if (v === null) continue;
      try {
        const w = workerInfoSchema.safeParse(JSON.parse(v));
        if (w.success) out.push(w.data);
      } catch {
        // a key that is not a worker record: not ours to judge
      }
    }
  } while (cursor !== '0');
  return out.sort((a, b) => a.adapter.localeCompare(b.adapter) || a.id.localeCompare(b.id));
}

export const speaksOurs = (w: WorkerInfo) => w.contract === FARM_CONTRACT && w.project === PROJECT_VERSION;

/**
 * The lanes of a farm run: each `--adapters` entry matched (as text in the name, like --adapter)
 * against the live workers' adapters, one adapter each; without entries, every adapter served.
 */
export function resolveAdapters(workers: readonly WorkerInfo[], wanted: readonly string[] | undefined): string[] {
  const ours = workers.filter(speaksOurs);
  const names = [...new Set(ours.map((w) => w.adapter))];
  const others = workers.filter((w) => !speaksOurs(w));
  const otherNote = others.length ? `; ignored ${others.length} worker(s) of another version (${[...new Set(others.map((w) => `crinn ${w.project} contract ${w.contract}`))].join(', ')}; this is crinn ${PROJECT_VERSION} contract ${FARM_CONTRACT})` : '';
  if (names.length === 0) throw new UserError(`--farm: no live worker on the farm${otherNote}; start one with \`crinn worker --farm URL [--adapter TEXT] [--backend B]\``);
  if (!wanted || wanted.length === 0) return names;
  const out: string[] = [];
  for (const text of wanted) {
    const hits = names.filter((n) => n.toLowerCase().includes(text.toLowerCase()));
    if (hits.length === 0) throw new UserError(`--adapters: no live worker's adapter matches '${text}' (served now: ${names.join('; ')})${otherNote}`);
    if (hits.length > 1) throw new UserError(`--adapters: '${text}' matches ${hits.length} adapters (${hits.join('; ')}); give more of the name`);
    if (out.includes(hits[0])) throw new UserError(`--adapters: '${hits[0]}' is named twice`);
    out.push(hits[0]);
  }
  return out;
}

function wire(v: VariantRef): WireVariant {
  return { hash: v.hash, variant: v.variant, files: v.files.map((f) => ({ path: f.path, base64: f.content.toString('base64') })) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class FarmBackend implements EvaluationBackend {
  readonly redis: Redis;
  private o: FarmBackendOptions;
  private readonly queues = new Map<string, Queue>();
  private workers: { at: number; list: WorkerInfo[] } | undefined;
  private closed = false;

  private constructor(o: FarmBackendOptions, redis: Redis) {
    this.o = o;
    this.redis = redis;
  }

  /** Connects (one line naming the URL when Redis is unreachable or refuses the password). */
  static async open(o: FarmBackendOptions): Promise<FarmBackend> {
    const redis = connect(o.url, `crinn-parent-${process.pid}`);
    try {
      await ping(redis, o.url);
    } catch (err) {
      redis.disconnect();
      throw err;
    }
    return new FarmBackend(o, redis);
  }

  useRunKey(key: Buffer): void {
    this.o.runKey = key;
  }

  queue(adapter: string): Queue {
    let q = this.queues.get(adapter);
    if (!q) {
      q = new Queue(queueName(adapter), { connection: this.redis, prefix: FARM_PREFIX });
      q.on('error', () => {});
      this.queues.set(adapter, q);
    }
    return q;
  }

  async liveWorkers(): Promise<WorkerInfo[]> {
    if (!this.workers || Date.now() - this.workers.at > 2000) this.workers = { at: Date.now(), list: await listWorkers(this.redis) };
    return this.workers.list;
  }

  /** As many jobs at once as live workers serve the lane's adapter (at least 1, so a job waits for the first). */
  async concurrency(lane: string | undefined): Promise<number> {
    if (lane === undefined) return 1;
    try {
      return Math.max(1, (await this.liveWorkers()).filter((w) => w.adapter === lane && speaksOurs(w)).length);
    } catch {
      return 1;
    }
  }

  /** The payload a worker receives for `job` (exported for tests that forge or break one). */
  payload(job: EvaluationJob, fingerprint: string | null): FarmJob {
    if (this.o.runKey.length !== 32) throw new Error('farm backend: no run key yet (useRunKey)');
    if (job.lane === undefined) throw new Error(`job ${job.id}: a farm job needs its adapter lane`);
    const settings = farmSettingsSchema.safeParse(job.settings);
    if (!settings.success) throw new UserError(`evaluator settings of the run cannot go to a farm: ${issuesText(settings.error)}`);
    const context: FarmJob['context'] = {};
    for (const [m, v] of Object.entries(job.context)) context[m as keyof FarmJob['context']] = wire(v!);
    return {
      contract: FARM_CONTRACT, project: PROJECT_VERSION, id: job.id, secret: jobSecret(this.o.runKey, job.id), adapter: job.lane,
      module: job.module, variant: wire(job.variant), context, dataset: { name: job.dataset, fingerprint: fingerprint },
      seed: job.seed, bestSoFar: job.bestSoFar, settings: settings.data, ...(job.deadline !== undefined ? { deadline: job.deadline } : {}),
    };
  }

  /**
   * The job's id on the farm: the loop's id (run id, lane, stage, index) behind a tag of the run's
   * key, so two runs whose folders share a name never share a job.
   */
  farmId(loopId: string): string {
    return `${createHash('sha256').update(this.o.runKey).digest('hex').slice(0, 10)}.${loopId}`;
  }

  async submit(loopJob: EvaluationJob): Promise<JobResult> {
    const job = { ...loopJob, id: this.farmId(loopJob.id) };
    const data = this.payload(job, this.o.datasetFingerprint);
    const bytes = Buffer.byteLength(JSON.stringify(data));
    // Too large to send: the variant's own fault (an LLM that wrote megabytes), failed at load.
    if (bytes > MAX_JOB_BYTES) return { verdict: failedLoad(job, `the job is ${bytes} bytes, over the farm's limit of ${MAX_JOB_BYTES} (variant files too large)`) };
    const q = this.queue(job.lane!);
    const note = this.o.onNote ?? (() => {});
    const pollMs = this.o.pollMs ?? (Number(process.env.CRINN_FARM_POLL_MS) || 500);
    const graceMs = this.o.graceMs ?? 60_000;
    let added = false;
    let lastNote = 0;
    let redisDown = false;
    while (!this.closed) {
      let j: Job | undefined;
      let state: string;
      try {
        j = (await q.getJob(job.id)) as Job | undefined;
        if (!j) {
          if (added) note(`job ${job.id} is gone from Redis (restarted without persistence?): submitting it again`);
          await q.add('evaluate', data, { jobId: job.id, attempts: 1, removeOnComplete: KEEP, removeOnFail: KEEP });
          added = true;
          continue;
        }
        state = await j.getState();
        if (redisDown) note(`redis at ${this.o.url.display} is back`);
        redisDown = false;
      } catch (err) {
        if (!redisDown) note(`redis at ${this.o.url.display}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}; waiting for it`);
        redisDown = true;
        await sleep(pollMs);
        continue;
      }
      if (j.data?.variant?.hash !== job.variant.hash) throw new Error(`job ${job.id} in Redis names variant ${String(j.data?.variant?.hash).slice(0, 12)}, not ${job.variant.hash.slice(0, 12)}: two runs share a run id`);
      // Read the job again: the one fetched above may predate its completion (no return value yet).
      if (state === 'completed') return this.accept(job, data.secret, ((await q.getJob(job.id)) as Job | undefined)?.returnvalue);
      if (state === 'failed') throw new Error(`farm job ${job.id} failed on a worker: ${j.failedReason}`);
      const waiting = state === 'waiting' || state === 'delayed' || state === 'prioritized';
      if (waiting && job.deadline !== undefined && Date.now() > job.deadline + graceMs) {
        await j.remove().catch(() => {});
        return { verdict: { ...failedLoad(job, `no worker of ${job.lane} took the job before the deadline`), status: 'void', fault: 'deadline' } };
      }
      if (waiting && Date.now() - lastNote > 60_000) {
        lastNote = Date.now();
        const n = (await this.liveWorkers().catch(() => [])).filter((w) => w.adapter === job.lane && speaksOurs(w)).length;
        if (n === 0 || Date.now() - (j.timestamp ?? Date.now()) > 60_000) note(`job ${job.id} waits for a worker of ${job.lane} (${n} live)`);
      }
      await sleep(pollMs);
    }
    throw new Error(`job ${job.id}: the farm connection was closed`);
  }

  /** The worker's result, if it is this job's: schema, job id, adapter, variant and MAC. */
  accept(job: EvaluationJob, secret: string, raw: unknown): JobResult {
    const r = farmResultSchema.safeParse(raw);
    if (!r.success) throw new Error(`job ${job.id}: the worker's result is malformed (${issuesText(r.error)})`);
    const x = r.data;
    if (x.jobId !== job.id) throw new Error(`job ${job.id}: forged verdict refused: the result names job ${x.jobId}`);
    if (x.adapter !== job.lane) throw new Error(`job ${job.id}: forged verdict refused: the result comes from adapter '${x.adapter}', the job is for '${job.lane}'`);
    if (x.verdict.variantHash !== job.variant.hash) throw new Error(`job ${job.id}: forged verdict refused: the verdict is for variant ${x.verdict.variantHash.slice(0, 12)}, the job's is ${job.variant.hash.slice(0, 12)}`);
    const rawVerdict = (raw as { verdict: unknown }).verdict;
    if (!macEquals(x.mac, resultMac(secret, job.id, job.variant.hash, x.adapter, rawVerdict))) throw new Error(`job ${job.id}: forged verdict refused: its MAC does not match the job's secret (worker ${x.worker})`);
    return { verdict: x.verdict, worker: x.worker, job: job.id };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const q of this.queues.values()) await q.close().catch(() => {});
    this.redis.disconnect();
  }
}

function failedLoad(job: EvaluationJob, reason: string): Verdict {
  return {
    status: 'failed', stage: 'load', reason, module: job.module, variantHash: job.variant.hash, dataset: job.dataset, adapter: job.lane ?? '',
    variantAuc: null, baselineAuc: null, reward: null, qpsAt90: null, qpsAt95: null, qpsAt99: null, evaluationsAt95: null, variantCurve: [], baselineCurve: [], seconds: 0,
  };
}
