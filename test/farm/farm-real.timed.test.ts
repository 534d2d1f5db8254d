/**
 * A real sandboxed evaluation through a real `crinn worker` (lavapipe Vulkan here) on a real
 * redis-server: the verdict comes back through Redis with the worker's adapter and passes the
 * contract; it has the local evaluator's shape (same fields, same status and stage, the same
 * adapter) for the same job. Small synthetic set and the loop tests' short evaluator settings.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FarmBackend, listWorkers } from '../../src/farm/backend.ts';
import { parseFarmUrl } from '../../src/farm/connection.ts';
import { localBackend, type EvaluationJob } from '../../src/evolve/backend.ts';
import { shippedBaseline } from '../../src/evolve/loop.ts';
import { putVariant } from '../../src/evolve/store.ts';
import { realEvaluator } from '../../src/evolve/evaluator-adapter.ts';
import { verdictSchema } from '../../src/evolve/contract.ts';
import { loadDataset } from '../../src/data/resolve.ts';
import { datasetFingerprint } from '../../src/data/fingerprint.ts';
import { RedisServer, spawnWorker, until, type WorkerProc } from './farm-helpers.ts';

const DATASET = 'synthetic-2k-d32-q50';
const SETTINGS = { queriesPerCall: 32, reps: 3, maxRounds: 4, efforts: [3, 6, 10], maxPoints: 5, probeQueries: 32, probeEffort: 10 };

const redis = new RedisServer();
let worker: WorkerProc;
let store: string;

beforeAll(async () => {
  await redis.start();
  store = mkdtempSync(path.join(tmpdir(), 'crinn-farm-real-'));
  worker = spawnWorker(redis.url, 'real1', { real: ['--backend', 'vulkan'] });
  await until(`the worker serving (${worker.output()})`, () => worker.output().includes('queue eval-'), 60_000);
}, 90_000);
afterAll(async () => {
  if (worker?.proc.exitCode === null) { worker.proc.kill('SIGKILL'); await worker.exited; }
  await redis.destroy();
  rmSync(store, { recursive: true, force: true });
});

describe('evaluation farm: a real evaluation through a worker', () => {
  it('the worker runs the sandboxed evaluator and its verdict has the local evaluator\'s shape; a dataset with another fingerprint is refused', async () => {
    const fp = datasetFingerprint(await loadDataset(DATASET));
    const backend = await FarmBackend.open({ url: parseFarmUrl(redis.url), runKey: Buffer.alloc(32, 3), datasetFingerprint: fp, pollMs: 200 });
    try {
      const [w] = (await listWorkers(backend.redis)).filter((x) => x.id === 'real1');
      expect(w.adapter).toMatch(/\(vulkan\)$/);
      const base = await shippedBaseline('search');
      const stored = putVariant(store, base.variant, base.files);
      const job: EvaluationJob = {
        id: `real-${process.pid}`, lane: w.adapter, module: 'search', variant: { hash: stored.hash, variant: stored.variant, files: stored.files }, context: {},
        dataset: DATASET, seed: 5, bestSoFar: null, settings: SETTINGS,
      };
      // Both at once to keep the test short: this compares shapes, not timings (one machine would normally run one at a time).
      const local = localBackend(store, realEvaluator({ backend: 'vulkan' }));
      const [farm, here] = await Promise.all([backend.submit(job), local.submit({ ...job, id: `${job.id}-local` })]);
      expect(verdictSchema.parse(farm.verdict)).toBeTruthy();
      expect(farm.worker).toBe('real1');
      expect(farm.verdict.status, farm.verdict.reason).toBe('ok');
      expect(farm.verdict.variantHash).toBe(stored.hash);
      expect(farm.verdict.adapter).toBe(w.adapter);
      // The same verdict shape as the evaluator on this machine: fields, status, stage, adapter, curves.
      expect(Object.keys(farm.verdict).sort()).toEqual(Object.keys(here.verdict).sort());
      expect([farm.verdict.status, farm.verdict.stage, farm.verdict.module, farm.verdict.dataset, farm.verdict.adapter]).toEqual([here.verdict.status, here.verdict.stage, here.verdict.module, here.verdict.dataset, here.verdict.adapter]);
      expect(farm.verdict.baselineCurve.length).toBeGreaterThanOrEqual(3);
      expect(farm.verdict.reward).toBeGreaterThan(0);
      // A worker whose copy of the dataset differs refuses the job, naming both fingerprints.
      const other = await FarmBackend.open({ url: parseFarmUrl(redis.url), runKey: Buffer.alloc(32, 4), datasetFingerprint: 'f'.repeat(64), pollMs: 200 });
      try {
        await expect(other.submit({ ...job, id: `${job.id}-fp` })).rejects.toThrow(new RegExp(`dataset '${DATASET}': this worker's copy has fingerprint ${fp.slice(0, 12)}, the job's is ffffffffffff`));
      } finally {
        await other.close();
      }
    } finally {
      await backend.close();
    }
  }, 240_000);
});
