/**
 * One side of an evaluation (the baseline or the variant) as the timing sees it: its module, index
 * and sandboxed system, the calls made to it (probe, warm-up, count, timed) and what they measured.
 * Every answer is checked (eval-answers.ts) and scored here, in the parent, against ground truth
 * the child never sees; a wrong answer from the baseline is the evaluator's fault.
 */
import { createHash } from 'node:crypto';
import type { Dataset, VectorSet } from '../data/types.ts';
import type { Index } from '../search/engine.ts';
import { storageOf } from '../search/knob-params.ts';
import { recallAtK } from '../bench/recall.ts';
import type { ModuleName } from '../bundle/module-manifest.ts';
import type { Stage } from './contract.ts';
import type { LoadedModule } from './modules.ts';
import type { QueryBatch } from './query-pool.ts';
import { BaselineFault, StageFail, type EvalSystem, type SystemName } from './eval-system.ts';
import { checkPassing, checkResults, rowsAsSearched } from './eval-answers.ts';
import type { PointData, SidePoints } from './eval-curves.ts';
import { filterPayload, type PoolFilters } from './pool-filter.ts';

/** What both sides share: the data, the probe batch and the call timeouts. */
export interface SideEnv {
  ds: Dataset;
  module: ModuleName;
  k: number;
  /** The untimed probe queries (correctness, warm-up, configuration signature). */
  probe: QueryBatch;
  compileMs: number;
  callMs: number;
  /** The base rows as a storage codec's index holds them, by codec name (shared, computed once each). */
  searchedRows: Map<string, VectorSet>;
  /** A filtered evaluation: the pool's labels and filters (every batch carries its queries' filters). */
  filter?: PoolFilters;
}

export class EvalSide implements SidePoints {
  readonly name: SystemName;
  readonly mod: LoadedModule;
  readonly index: Index;
  sys?: EvalSystem;
  readonly signature = new Map<number, string>();
  readonly evaluations = new Map<number, number>();
  readonly points = new Map<number, PointData>();
  readonly rejected = new Set<number>();
  private readonly env: SideEnv;

  constructor(name: SystemName, mod: LoadedModule, index: Index, env: SideEnv) {
    this.name = name;
    this.mod = mod;
    this.index = index;
    this.env = env;
  }

  /** The base rows as this side's storage codec holds them (f16: rounded): its distances are checked against those rows. */
  private distanceBase(): VectorSet {
    const { env } = this;
    const storage = storageOf(env.module, this.mod.knobs);
    let rows = env.searchedRows.get(storage);
    if (!rows) env.searchedRows.set(storage, (rows = rowsAsSearched(env.ds.base, storage)));
    return rows;
  }

  /** A wrong answer from the baseline is the evaluator's fault. */
  private checked<T>(f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof StageFail && this.name === 'baseline') throw new BaselineFault(`baseline ${this.env.module}: ${e.message}`);
      throw e;
    }
  }

  /** The probe batch at one effort, untimed: its recall and a hash of its answer (the configuration's signature). */
  async probeRecall(effort: number, stage: Stage, timeoutMs: number): Promise<{ recall: number; sig: string }> {
    const { ds, k, probe } = this.env;
    const r = await this.sys!.call<{ ids: unknown; distances: unknown }>('search', { queries: probe.queries.data, dim: ds.base.dim, k, effort, ...filterOf(probe) }, stage, timeoutMs);
    const ids = this.answer(r.value, probe);
    const recall = this.recall(ids, probe).recall;
    return { recall, sig: createHash('sha256').update(new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength)).digest('hex') };
  }

  /** The batch's answer, checked: ids, distances and, under a filter, that every id passes it. */
  private answer(value: { ids?: unknown; distances?: unknown } | undefined, b: QueryBatch): Int32Array {
    const { ds, k } = this.env;
    return this.checked(() => {
      const ids = checkResults(value, b.queries, k, this.distanceBase(), ds.metric);
      if (b.filter) checkPassing(ids, k, b.filter.filters, b.filter.sets);
      return ids;
    });
  }

  /** Recall against the batch's truth (under a filter, the passing rows' k-th distance; a rejected id is never a hit). */
  private recall(ids: Int32Array, b: QueryBatch): ReturnType<typeof recallAtK> {
    const { ds, k } = this.env;
    const f = b.filter;
    return recallAtK({ ids, nq: b.queries.n, k }, ds.base, b.queries, ds.metric, b.kth, k, f ? (q, id) => f.sets.passes(f.filters[q], id) : undefined);
  }

  /** Untimed: compiles the effort's kernel, warms it and fingerprints the configuration. */
  async warm(effort: number): Promise<void> {
    this.signature.set(effort, (await this.probeRecall(effort, 'timing', this.env.compileMs)).sig);
  }

  /**
   * Untimed: the work per probe query at an effort, from the child's counting kernel (its own
   * pipeline, a compile of its own: done for the efforts the rounds time, not every planned one).
   */
  async count(effort: number): Promise<void> {
    const { ds, k, probe, compileMs } = this.env;
    // The counting kernel is the unfiltered one: under a filter no work figure is reported.
    if (probe.filter) return;
    const c = await this.sys!.call<{ evaluations?: unknown }>('search', { queries: probe.queries.data, dim: ds.base.dim, k, effort, countEvaluations: true }, 'timing', compileMs);
    const e = c.value?.evaluations;
    if (typeof e === 'number' && Number.isFinite(e) && e >= 0) this.evaluations.set(effort, e);
  }

  /** One timed call: drain, search, drain in the child, the parent's clock around it; recall scored here. */
  async timed(effort: number, b: QueryBatch): Promise<{ recall: number; perQuery: number[]; qps: number }> {
    const { ds, k, callMs } = this.env;
    // Both drains are inside the timed call: whatever is still queued when the system is continued
    // (work it deferred past its last call) is its own, and so is what it leaves queued at return.
    const s = await this.sys!.call<{ ids: unknown; distances: unknown }>('search', { queries: b.queries.data, dim: ds.base.dim, k, effort, drain: true, ...filterOf(b) }, 'timing', callMs);
    const ids = this.answer(s.value, b);
    const rr = this.recall(ids, b);
    return { recall: rr.recall, perQuery: Array.from(rr.perQuery), qps: b.queries.n / (s.ms / 1000) };
  }
}

/** A search call's filter field: the batch's filters (the parent decides them), none unfiltered. */
function filterOf(b: QueryBatch): { filter?: ReturnType<typeof filterPayload> } {
  return b.filter ? { filter: filterPayload(b.filter.filters) } : {};
}
