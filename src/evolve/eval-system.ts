/**
 * One side of an evaluation (the baseline or the variant): its sandbox child and the rules every
 * call to it follows (docs/ARCHITECTURE.md "The evaluator"):
 *  - the child runs only during its own calls: stopped (SIGSTOP) in between, so work it defers
 *    cannot land in the other system's timed window;
 *  - the children share the GPU shader cache in its multi-file form, which never blocks (sandbox.ts:
 *    a child stopped while holding the cache database's lock once hung the other for 300 s);
 *  - every call has a timeout, cut short by the evaluation's deadline;
 *  - a baseline failure is the evaluator's fault (BaselineFault), never the variant's.
 */
import { Sandbox, SandboxFailureError, type CallOutcome, type SandboxFailure } from './sandbox.ts';
import type { Stage } from './contract.ts';

/** A failure the verdict reports (stage, reason). */
export class StageFail extends Error {
  readonly stage: Stage;
  constructor(stage: Stage, message: string) {
    super(message);
    this.stage = stage;
  }
}

/** The trusted side failed or stalled: the evaluation is void, the variant is not to blame. */
export class BaselineFault extends Error {
  override name = 'BaselineFault';
}

/** The evaluation ran past its deadline (the loop's budget plus its margin). */
export class DeadlineFault extends Error {
  override name = 'DeadlineFault';
}

export type SystemName = 'baseline' | 'variant';

export interface SystemStart {
  entry: string;
  readPaths: string[];
  scratch: string;
  memMiB: number;
  allowNetwork?: boolean;
  startMs: number;
  callMs: number;
  /** Epoch ms after which no call may run (undefined: none). */
  deadline?: number;
}

export function failureText(f: SandboxFailure): string {
  // Dawn's limit warnings say nothing about the variant.
  const err = f.stderr.trim().split('\n').filter((l) => l && !/artificially reduced/.test(l)).slice(-3).join(' | ');
  return `${f.reason}: ${f.message}${f.reason !== 'thrown' && err ? ` (stderr: ${err.slice(0, 600)})` : ''}`;
}

export class EvalSystem {
  readonly name: SystemName;
  adapter = '';
  private sb: Sandbox | undefined;
  private readonly deadline: number | undefined;

  private constructor(name: SystemName, sb: Sandbox, deadline: number | undefined) {
    this.name = name;
    this.sb = sb;
    this.deadline = deadline;
  }

  /** Starts the child (stage compile); a baseline that cannot start is a BaselineFault. */
  static async start(name: SystemName, o: SystemStart): Promise<EvalSystem> {
    let sb: Sandbox;
    try {
      sb = await Sandbox.start({
        entry: o.entry, readPaths: o.readPaths, scratch: o.scratch, memMiB: o.memMiB, allowNetwork: o.allowNetwork,
        timeouts: { startMs: o.startMs, callMs: o.callMs },
      });
    } catch (e) {
      if (!(e instanceof SandboxFailureError)) throw e;
      const msg = `sandbox start: ${failureText(e.failure)}`;
      if (name === 'baseline') throw new BaselineFault(`baseline failed to start: ${msg}`);
      throw new StageFail('compile', msg);
    }
    sb.pause();
    return new EvalSystem(name, sb, o.deadline);
  }

  /** The child's pid (tests check that an idle child is stopped). */
  get pid(): number | undefined {
    return this.sb?.pid;
  }

  /**
   * One call: the child is continued for it and stopped after it. Its outcome is a value and the
   * parent's milliseconds from sending to reply; a failure throws StageFail (variant) or
   * BaselineFault (baseline; it gets 3x the timeout: a stall there is the machine, not the code).
   */
  async call<T>(op: string, payload: unknown, stage: Stage, timeoutMs: number): Promise<{ value: T; ms: number }> {
    const sb = this.sb;
    if (!sb) throw new Error(`${this.name}: closed`);
    let limit = this.name === 'baseline' ? 3 * timeoutMs : timeoutMs;
    if (this.deadline !== undefined) {
      const left = this.deadline - Date.now();
      if (left <= 0) throw new DeadlineFault(`the evaluation ran past its deadline before ${this.name} ${op}`);
      limit = Math.min(limit, left);
    }
    sb.resume();
    let r: CallOutcome<T>;
    try {
      r = await sb.call<T>(op, payload, { timeoutMs: limit, stage });
    } finally {
      sb.pause();
    }
    if (r.ok) return r;
    if (this.deadline !== undefined && Date.now() >= this.deadline && r.failure.reason === 'timeout') {
      throw new DeadlineFault(`the evaluation ran past its deadline during ${this.name} ${op}`);
    }
    if (this.name === 'baseline') throw new BaselineFault(`baseline ${op} (${stage}): ${failureText(r.failure)}`);
    throw new StageFail(stage, `${op}: ${failureText(r.failure)}`);
  }

  async close(): Promise<void> {
    const sb = this.sb;
    this.sb = undefined;
    await sb?.close();
  }
}
