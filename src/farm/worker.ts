/**
 * A farm worker (`crinn worker --farm URL`): takes evaluation jobs from its adapter's queue, one
 * at a time (it owns its adapter while it times), runs each through the evaluator exactly as
 * `crinn optimize` on this machine does (src/evolve/evaluate.ts: the sandboxed children), and
 * returns the verdict with the job's MAC (protocol.ts). A job is refused:
 *  - larger than MAX_JOB_BYTES, or failing the schema: failed at once (UnrecoverableError), with
 *    the field named; the worker goes on;
 *  - of another contract or project version: put back on the queue (delayed) for a worker that
 *    speaks it, and this worker stops, saying which versions differ;
 *  - for a dataset this worker holds with another fingerprint, or cannot load: failed, naming it.
 * A worker killed mid-job loses its lock; BullMQ's stalled-job check puts the job back for another
 * worker of the adapter (lockMs / stalledMs below).
 */
import { hostname } from 'node:os';
import path from 'node:path';
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ModuleName } from '../bundle/module-manifest.ts';
import type { Evaluator } from '../evolve/backend.ts';
import { putVariant } from '../evolve/store.ts';
import { loadDataset } from '../data/resolve.ts';
import { datasetFingerprint } from '../data/fingerprint.ts';
import { connect, type FarmUrl } from './connection.ts';
import {
  FARM_CONTRACT, FARM_PREFIX, MAX_JOB_BYTES, PROJECT_VERSION, WORKER_KEY_PREFIX, WORKER_TTL_MS, farmJobSchema, farmVersionSchema, issuesText, queueName, resultMac,
  type FarmJob, type FarmResult, type WireVariant, type WorkerInfo,
} from './protocol.ts';

export interface FarmWorkerOptions {
  url: FarmUrl;
  /** The full name of the adapter this worker evaluates on (its queue). */
  adapter: string;
  evaluate: Evaluator;
  /** Where job variants are materialised (a content-addressed store, like a run's). */
  cacheDir: string;
  dataDir?: string;
  id?: string;
  /** BullMQ lock: a job whose worker stops renewing it for this long is stalled. Default 30 s. */
  lockMs?: number;
  /** How often the stalled-job check runs. Default 30 s. */
  stalledMs?: number;
  /** Test hook: the contract this worker claims to speak. */
  contract?: number;
  log?: (line: string) => void;
}

export interface RunningWorker {
  id: string;
  queue: string;
  /** Resolves when the worker stops: 0 closed, 3 refused a job of another version. */
  done: Promise<number>;
  close(): Promise<void>;
}

const decode = (v: WireVariant) => v.files.map((f) => ({ path: f.path, content: Buffer.from(f.base64, 'base64') }));

export async function startWorker(o: FarmWorkerOptions): Promise<RunningWorker> {
  const id = o.id ?? `${hostname()}-${process.pid}`;
  const queue = queueName(o.adapter);
  const contract = o.contract ?? FARM_CONTRACT;
  const log = o.log ?? (() => {});
  const redis: Redis = connect(o.url, `crinn-worker-${id}`);
  const fingerprints = new Map<string, string>();
  let jobs = 0;
  let finish!: (code: number) => void;
  const done = new Promise<number>((r) => { finish = r; });
  let closing: Promise<void> | undefined;

  const info = (): WorkerInfo => ({ id, host: hostname(), pid: process.pid, adapter: o.adapter, queue, contract, project: PROJECT_VERSION, startedAt, jobs });
  const startedAt = new Date().toISOString();
  const announce = () => redis.set(`${WORKER_KEY_PREFIX}${id}`, JSON.stringify(info()), 'PX', WORKER_TTL_MS).catch(() => {});
  await announce();
  const heartbeat = setInterval(announce, WORKER_TTL_MS / 3);

  const variantDir = (v: WireVariant, what: string): string => {
    const stored = putVariant(o.cacheDir, v.variant, decode(v));
    if (stored.hash !== v.hash) throw new UnrecoverableError(`${what}: its files and knob values hash to ${stored.hash.slice(0, 12)}, not to the job's ${v.hash.slice(0, 12)}`);
    return stored.dir;
  };

  const checkDataset = async (d: FarmJob['dataset']): Promise<void> => {
    if (d.fingerprint === null) return;
    let fp = fingerprints.get(d.name);
    if (fp === undefined) {
      try {
        fp = datasetFingerprint(await loadDataset(d.name, { dataDir: o.dataDir }));
      } catch (err) {
        throw new UnrecoverableError(`dataset '${d.name}' is not on this worker (${err instanceof Error ? err.message : String(err)}); put it in --data-dir`);
      }
      fingerprints.set(d.name, fp);
    }
    if (fp !== d.fingerprint) throw new UnrecoverableError(`dataset '${d.name}': this worker's copy has fingerprint ${fp.slice(0, 12)}, the job's is ${d.fingerprint.slice(0, 12)}`);
  };

  const process_ = async (job: Job, token?: string): Promise<FarmResult> => {
    const size = Buffer.byteLength(JSON.stringify(job.data ?? null));
    if (size > MAX_JOB_BYTES) throw new UnrecoverableError(`job ${job.id}: ${size} bytes, over the farm's limit of ${MAX_JOB_BYTES}`);
    const ver = farmVersionSchema.safeParse(job.data);
    if (!ver.success) throw new UnrecoverableError(`malformed job ${job.id}: ${issuesText(ver.error)}`);
    if (ver.data.contract !== contract || ver.data.project !== PROJECT_VERSION) {
      // Another version's job: back on the queue for a worker that speaks it; this one stops.
      log(`refusing job ${job.id}: it was submitted by crinn ${ver.data.project} (farm contract ${ver.data.contract}), this worker runs crinn ${PROJECT_VERSION} (contract ${contract}); run the same version on both sides. Stopping.`);
      await job.moveToDelayed(Date.now() + 1000, token);
      setImmediate(() => void stop(3));
      throw new DelayedError();
    }
    const parsed = farmJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`malformed job ${job.id}: ${issuesText(parsed.error)}`);
    const j = parsed.data;
    if (j.id !== job.id) throw new UnrecoverableError(`malformed job ${job.id}: its payload names job ${j.id}`);
    if (j.adapter !== o.adapter) throw new UnrecoverableError(`job ${job.id} is for adapter '${j.adapter}', this worker serves '${o.adapter}'`);
    await checkDataset(j.dataset);
    const dir = variantDir(j.variant, 'variant');
    const context: Partial<Record<ModuleName, string>> = {};
    for (const [m, v] of Object.entries(j.context)) context[m as ModuleName] = variantDir(v!, `context ${m}`);
    log(`job ${job.id}: ${j.module} ${j.variant.hash.slice(0, 12)} on ${j.dataset.name}`);
    const t0 = Date.now();
    const verdict = await o.evaluate(dir, { dataset: j.dataset.name, module: j.module, context, seed: j.seed, bestSoFar: j.bestSoFar, options: j.settings, deadline: j.deadline });
    // A variant that failed to load has no hash of its own: it is the job's.
    const v = verdict.variantHash ? verdict : { ...verdict, variantHash: j.variant.hash };
    jobs++;
    void announce();
    log(`job ${job.id}: ${v.status}${v.reward !== null ? ` reward ${v.reward.toFixed(3)}` : ''} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return { contract: FARM_CONTRACT, jobId: j.id, worker: id, adapter: o.adapter, verdict: v, mac: resultMac(j.secret, j.id, j.variant.hash, o.adapter, v) };
  };

  const worker = new Worker(queue, process_, {
    connection: redis, prefix: FARM_PREFIX, concurrency: 1, autorun: false,
    lockDuration: o.lockMs ?? 30_000, stalledInterval: o.stalledMs ?? 30_000,
    // A job may be put back twice after a worker died holding it; a third time it fails, naming why.
    maxStalledCount: 2,
  });
  let lastError = '';
  worker.on('error', (err) => {
    const m = err.message.split('\n')[0];
    if (m !== lastError) log(`redis: ${m}`);
    lastError = m;
  });
  // The connection's own event: BullMQ's 'ready' fires once, not after a reconnect.
  redis.on('ready', () => { if (lastError) log('redis: connected again'); lastError = ''; });
  worker.on('failed', (job, err) => { if (job && !(err instanceof DelayedError)) log(`job ${job.id} failed: ${err.message}`); });

  const stop = (code: number): Promise<void> => {
    closing ??= (async () => {
      clearInterval(heartbeat);
      await worker.close();
      await redis.del(`${WORKER_KEY_PREFIX}${id}`).catch(() => {});
      redis.disconnect();
      finish(code);
    })();
    return closing;
  };
  void worker.run().catch((err: unknown) => {
    log(`worker stopped: ${err instanceof Error ? err.message : String(err)}`);
    void stop(2);
  });
  return { id, queue, done, close: () => stop(0) };
}

/** Default cache of job variants: under the user's cache folder, like the sandbox shader cache. */
export function defaultCacheDir(): string {
  return path.join(process.env.XDG_CACHE_HOME ?? path.join(process.env.HOME ?? '/tmp', '.cache'), 'crinn', 'farm-variants');
}
