/**
 * The run journal: RUN/journal.jsonl, one JSON record per line, appended and fsynced one at a
 * time. It is the source of truth of a run; the store (store.ts) only holds what records point at,
 * and run-state.ts rebuilds everything else from it. A crash can leave only the last line torn
 * (no newline, or not JSON): readJournal drops it and says so; damage anywhere else is refused.
 */
import { closeSync, existsSync, fsyncSync, ftruncateSync, linkSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { verdictSchema } from './contract.ts';
import { MODULE_NAMES } from '../bundle/module-manifest.ts';
import { UserError } from '../errors.ts';
import { assertRegularFileSync } from '../data/vecs.ts';

export const JOURNAL_FILE = 'journal.jsonl';
export const JOURNAL_VERSION = 1;

const moduleName = z.enum(MODULE_NAMES);
const hash = z.string().regex(/^[0-9a-f]{64}$/);

export const runConfigSchema = z.object({
  /** Dataset name or path as given, and its content fingerprint when the evaluator reported one. */
  dataset: z.string().min(1),
  /** autotune: knob search; llm: the model writes code (and knobs); mixed: both, alternating (loop.ts mixedTurn). */
  policy: z.enum(['autotune', 'llm', 'mixed']),
  /** --policy llm or mixed: the LLM settings (src/evolve/llm/config.ts) minus the key, so a resumed run uses the same ones. */
  llm: z.record(z.string(), z.unknown()).optional(),
  stages: z.array(moduleName).min(1),
  /** Evaluations for the whole run and/or wall-clock seconds; at least one. */
  budget: z.object({ evals: z.number().int().positive().optional(), seconds: z.number().positive().optional() })
    .refine((b) => b.evals !== undefined || b.seconds !== undefined, { message: 'expected evals or seconds' }),
  seed: z.number().int().nonnegative(),
  /**
   * An override of what counts as a gain: a reward more than this above the best so far. Absent
   * (the default): the verdict's 95% interval decides (run-state.ts isGain).
   */
  spread: z.number().nonnegative().optional(),
  /** Evaluations without a gain before a stage stops early. */
  patience: z.number().int().positive(),
  /** Options handed to the evaluator unchanged (k, reps, queries...). */
  evaluator: z.record(z.string(), z.unknown()).default({}),
  /**
   * An evaluation farm run (src/farm/): one lane per adapter, by the full adapter names its
   * workers serve; each lane tunes the stages for its adapter. The Redis URL is not journaled (it
   * may carry a password): `crinn resume --farm URL` gives it again.
   */
  farm: z.object({ adapters: z.array(z.string().min(1)).min(1) }).optional(),
});
export type RunConfig = z.infer<typeof runConfigSchema>;

const base = { time: z.string() };
/** The farm lane (adapter name) a stage record belongs to; absent in a run without lanes. */
const lane = { lane: z.string().min(1).optional() };

export const recordSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('run-start'), ...base, version: z.literal(JOURNAL_VERSION), runId: z.string(), config: runConfigSchema }),
  z.object({ type: z.literal('resume'), ...base, pid: z.number().int() }),
  z.object({ type: z.literal('stage-start'), ...base, ...lane, stage: moduleName, startHash: hash }),
  z.object({
    type: z.literal('variant-proposed'), ...base, ...lane,
    stage: moduleName, hash, parents: z.array(hash), origin: z.string(),
    knobValues: z.record(z.string(), z.number()),
    /** Best variants of the earlier stages' modules that this one is evaluated on top of. */
    context: z.record(z.string(), hash).default({}),
  }),
  z.object({
    type: z.literal('verdict'), ...base, ...lane, stage: moduleName, hash, verdict: verdictSchema,
    /** The proposal answered (its index in the stage): proposals may be evaluated several at once. */
    index: z.number().int().nonnegative().optional(),
    /** Farm runs: the job id and the worker that ran it. */
    job: z.string().optional(),
    worker: z.string().optional(),
  }),
  z.object({
    type: z.literal('stage-end'), ...base, ...lane, stage: moduleName,
    reason: z.enum(['budget', 'converged', 'exhausted', 'time']),
    bestHash: hash, startReward: z.number().nullable(), bestReward: z.number().nullable(),
  }),
  z.object({ type: z.literal('run-end'), ...base, reason: z.string() }),
]);
export type JournalRecord = z.infer<typeof recordSchema>;
/** A record before the journal stamps its time. */
export type NewRecord = JournalRecord extends infer R ? (R extends JournalRecord ? Omit<R, 'time'> : never) : never;

export interface ReadResult {
  records: JournalRecord[];
  /** Byte length of the intact prefix (everything before a torn last line). */
  validBytes: number;
  /** The dropped torn last line, if any (for the message). */
  torn?: string;
}

/** Parses a journal; a torn last line is dropped, any other bad line is a UserError naming it. */
export function parseJournal(text: string, file: string): ReadResult {
  const records: JournalRecord[] = [];
  let pos = 0;
  let lineNo = 0;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    const last = nl < 0 || text.slice(nl + 1).length === 0;
    const line = text.slice(pos, nl < 0 ? text.length : nl);
    lineNo++;
    let rec: JournalRecord | undefined;
    let why = '';
    try {
      const r = recordSchema.safeParse(JSON.parse(line));
      if (r.success) rec = r.data;
      else why = r.error.issues.map((i) => `${i.path.join('.') || 'record'}: ${i.message}`).join('; ');
    } catch (err) {
      why = (err as Error).message;
    }
    // A line without its newline was being written when the process died, even if it parses.
    if (nl < 0 || (rec === undefined && last)) {
      return { records, validBytes: Buffer.byteLength(text.slice(0, pos)), torn: line };
    }
    if (rec === undefined) throw new UserError(`${file}: line ${lineNo} is not a valid journal record (${why}); only a torn last line can be dropped`);
    records.push(rec);
    pos = nl + 1;
  }
  return { records, validBytes: Buffer.byteLength(text) };
}

export function readJournal(runDir: string): ReadResult {
  const file = path.join(runDir, JOURNAL_FILE);
  if (!existsSync(file)) throw new UserError(`${runDir}: not a run folder (no ${JOURNAL_FILE})`);
  // A folder or a FIFO where the journal should be: one line naming it, never a raw EISDIR or a hang.
  assertRegularFileSync(file);
  const r = parseJournal(readFileSync(file, 'utf8'), file);
  if (r.records.length === 0 || r.records[0].type !== 'run-start') throw new UserError(`${file}: the first record must be run-start`);
  return r;
}

/** A record stamped with the time, validated, as one journal line. */
function line(rec: NewRecord): string {
  return `${JSON.stringify(recordSchema.parse({ ...rec, time: new Date().toISOString() }))}\n`;
}

/** Appends records, one write + fsync each, so a record on disk is a record that happened. */
export class JournalWriter {
  readonly file: string;
  #fd: number;

  private constructor(file: string, fd: number) {
    this.file = file;
    this.#fd = fd;
  }

  /**
   * A new journal holding `first` (the run-start record), written to a temp file and renamed, so a
   * journal that exists always starts with its run-start; refuses to overwrite one.
   */
  static create(runDir: string, first: NewRecord): JournalWriter {
    const file = path.join(runDir, JOURNAL_FILE);
    if (existsSync(file)) throw new UserError(`${runDir}: already holds a run (${JOURNAL_FILE}); use \`crinn resume ${runDir}\``);
    const tmp = `${file}.tmp-${process.pid}`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, line(first));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    linkSync(tmp, file); // fails if another process created the journal meanwhile
    unlinkSync(tmp);
    return new JournalWriter(file, openSync(file, 'a'));
  }

  /** Reopens after a crash: cuts a torn last line off so the next record starts on a clean line. */
  static reopen(runDir: string, read: ReadResult): JournalWriter {
    const file = path.join(runDir, JOURNAL_FILE);
    const fd = openSync(file, 'r+');
    ftruncateSync(fd, read.validBytes);
    fsyncSync(fd);
    closeSync(fd);
    return new JournalWriter(file, openSync(file, 'a'));
  }

  append(rec: NewRecord): void {
    writeSync(this.#fd, line(rec));
    fsyncSync(this.#fd);
  }

  close(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
  }
}
