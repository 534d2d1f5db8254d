/** `crinn optimize` and `crinn resume`: thin wrappers over src/evolve/loop.ts. */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import cliProgress from 'cli-progress';
import { Option, type Command } from 'commander';
import { UserError } from '../../errors.ts';
import { MODULE_NAMES, type ModuleName } from '../../bundle/module-manifest.ts';
import { newRunId, resumeRun, shippedBaseline, startRun, type BaselineSource, type Evaluator, type LoopDeps, type LoopEvent, type RunState } from '../../evolve/loop.ts';
import type { EvaluationBackend } from '../../evolve/backend.ts';
import { laneNames } from '../../evolve/run-state.ts';
import type { RunConfig } from '../../evolve/journal.ts';
import { loadRun, renderSummary } from '../../evolve/runs.ts';
import { loadLlmConfig } from '../../evolve/llm/config.ts';
import { configOfRun, llmProposer, llmSettings, type LlmProposer } from '../../evolve/llm/loop-policy.ts';
import { globals, nonNegativeInt, positiveInt, print, type GlobalOptions } from '../context.ts';
import { parseFilterSelectivity, poolFiltersFor, type FilterSetting } from '../../evolve/pool-filter.ts';
import { loadDataset } from '../../data/resolve.ts';
import { writeRunReport } from '../../evolve/run-report.ts';
import { oneLine } from '../../errors.ts';
import { rewardText } from '../../evolve/reward-text.ts';
import { makeDir, planDir } from '../../data/output-paths.ts';
import { assertRegularFileSync } from '../../data/vecs.ts';
import { datasetFingerprint } from '../../data/fingerprint.ts';

export const DEFAULT_DATASET = 'siftsmall-5k';
export const DEFAULT_BUDGET = '5m';

/** Where runs live unless --run-dir says otherwise. */
export function runsRoot(): string {
  return path.resolve(process.env.CRINN_RUNS_DIR ?? path.join('out', 'runs'));
}

/** Budget bounds: a million evaluations or a year of wall time is past any run this loop makes. */
export const MAX_BUDGET_EVALS = 1_000_000;
export const MAX_BUDGET_SECONDS = 365 * 24 * 3600;

/** '40' -> 40 evaluations; '90s', '5m', '1.5h' -> seconds; 'a,b' -> both limits, whichever comes first. */
export function parseBudget(text: string): RunConfig['budget'] {
  const budget: RunConfig['budget'] = {};
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const d = /^(\d+(?:\.\d+)?)(s|m|h)$/.exec(part);
    if (d) {
      budget.seconds = Number(d[1]) * { s: 1, m: 60, h: 3600 }[d[2] as 's' | 'm' | 'h'];
      if (budget.seconds > MAX_BUDGET_SECONDS) throw new UserError(`--budget: a duration up to ${MAX_BUDGET_SECONDS / 3600}h (a year) is allowed, got '${part}'`);
    } else if (/^\d+$/.test(part) && Number(part) > 0) {
      budget.evals = Number(part);
      if (budget.evals > MAX_BUDGET_EVALS) throw new UserError(`--budget: 1 to ${MAX_BUDGET_EVALS} evaluations are allowed, got '${part}'`);
    } else throw new UserError(`--budget: expected evaluations (40), a duration (90s, 5m, 1h) or both (40,5m), got '${text}'`);
  }
  if (budget.evals === undefined && budget.seconds === undefined) throw new UserError(`--budget: expected evaluations or a duration, got '${text}'`);
  if (budget.seconds !== undefined && !(budget.seconds > 0)) throw new UserError(`--budget: duration must be above 0, got '${text}'`);
  return budget;
}

export function parseStages(text: string): ModuleName[] {
  const names = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new UserError(`--stages: expected a comma-separated list of ${MODULE_NAMES.join(', ')}`);
  for (const n of names) if (!(MODULE_NAMES as readonly string[]).includes(n)) throw new UserError(`--stages: unknown stage '${n}'; allowed: ${MODULE_NAMES.join(', ')}`);
  if (new Set(names).size !== names.length) throw new UserError(`--stages: '${text}' names a stage twice`);
  // CRINN's order: each stage builds on the ones before it.
  return MODULE_NAMES.filter((m) => names.includes(m));
}

/**
 * The evaluator and baselines: a module given by --evaluator (exports `evaluate` and optionally
 * `baseline`; the loop tests use it for a GPU-free fixture), else the real evaluator of `crinn evaluate`.
 */
async function loopDeps(evaluatorModule: string | undefined, g: GlobalOptions, backend?: EvaluationBackend): Promise<Pick<LoopDeps, 'evaluate' | 'baseline' | 'backend'>> {
  const shipped = shippedBaseline;
  if (backend) {
    // A farm: workers evaluate; a --evaluator module may still supply the baselines (the GPU-free tests).
    if (!evaluatorModule) return { backend, baseline: shipped };
    const m = (await import(pathToFileURL(path.resolve(evaluatorModule)).href)) as { baseline?: BaselineSource };
    return { backend, baseline: m.baseline ?? shipped };
  }
  if (evaluatorModule) {
    if (!existsSync(evaluatorModule)) throw new UserError(`--evaluator: ${evaluatorModule} does not exist`);
    assertRegularFileSync(evaluatorModule);
    const m = (await import(pathToFileURL(path.resolve(evaluatorModule)).href)) as { evaluate?: Evaluator; baseline?: BaselineSource };
    if (typeof m.evaluate !== 'function') throw new UserError(`--evaluator: ${evaluatorModule} exports no evaluate function`);
    return { evaluate: m.evaluate, baseline: m.baseline ?? shipped };
  }
  const { realEvaluator } = await import('../../evolve/evaluator-adapter.ts');
  return { evaluate: realEvaluator(g), baseline: shipped };
}

/** Evaluations, failures, stage and best reward: a bar on a TTY, plain lines otherwise, nothing with --quiet. */
export function loopProgress(quiet: boolean | undefined, budgetEvals: number | undefined, stream: NodeJS.WriteStream = process.stderr): { onEvent: (ev: LoopEvent) => void; stop: () => void } {
  if (quiet) return { onEvent: () => {}, stop: () => {} };
  const fmt = (r: number | null) => (r === null ? '-' : r.toFixed(3));
  if (!stream.isTTY) {
    return {
      stop: () => {},
      onEvent(ev) {
        if (ev.type === 'resumed') {
          stream.write(`resume: ${ev.evaluations} evaluations kept, ${ev.pending} in flight to redo${ev.dropped ? ', torn last journal line dropped' : ''}\n`);
          return;
        }
        // A farm run's lines name their adapter lane.
        if (ev.lane !== undefined) stream.write(`[${ev.lane}] `);
        if (ev.type === 'stage-start') stream.write(`stage ${ev.stage}${ev.budget ? ` (up to ${ev.budget} evaluations)` : ''}\n`);
        else if (ev.type === 'evaluating') {
          // Evaluations take minutes on a software adapter: say what is being measured meanwhile.
          const knobs = Object.entries(ev.knobValues).map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(3)}`).join(' ');
          stream.write(`    evaluating ${ev.hash.slice(0, 12)} (${ev.origin}${knobs ? `: ${knobs}` : ''})\n`);
        }
        else if (ev.type === 'verdict') {
          const v = ev.verdict;
          stream.write(`[${ev.done}] ${ev.stage} ${ev.hash.slice(0, 12)}${ev.worker ? ` (${ev.worker})` : ''}: ${v.status === 'ok' ? `reward ${rewardText(v)}` : v.status === 'void' ? `${rewardText(v)}: ${v.reason.slice(0, 120)}` : `failed at ${v.stage}: ${v.reason.slice(0, 120)}`} | best ${fmt(ev.best)} | failures ${ev.failures}\n`);
        } else if (ev.type === 'stage-end') stream.write(`stage ${ev.stage} done (${ev.reason}): ${fmt(ev.startReward)} -> ${fmt(ev.bestReward)}\n`);
      },
    };
  }
  const bar = new cliProgress.SingleBar(
    { stream, format: `optimize {bar} {value}${budgetEvals ? '/{total}' : ''} evals | failed {failures} | stage {stage} | best {best} | {status}`, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  const payload = { failures: 0, stage: '-', best: '-', status: '' };
  return {
    stop: () => bar.stop(),
    onEvent(ev) {
      if (!started) {
        bar.start(budgetEvals ?? 0, 0, payload);
        started = true;
      }
      if (ev.type === 'stage-start') bar.update({ stage: ev.stage, status: 'baseline' });
      else if (ev.type === 'evaluating') bar.update({ status: `evaluating ${ev.hash.slice(0, 8)}` });
      else if (ev.type === 'verdict') bar.update(ev.done, { failures: ev.failures, best: fmt(ev.best), status: ev.verdict.status === 'ok' ? `last ${rewardText(ev.verdict)}` : `last ${rewardText(ev.verdict)}` });
      else if (ev.type === 'stage-end') bar.update({ status: `${ev.stage} ${fmt(ev.startReward)} -> ${fmt(ev.bestReward)}` });
    },
  };
}

interface OptimizeOpts {
  dataset?: string;
  policy: string;
  stages: string;
  budget: string;
  runDir?: string;
  seed: string;
  spread?: string;
  patience: string;
  evaluator?: string;
  llmConfig?: string;
  reps?: string;
  queries?: string;
  precision?: string;
  maxRounds?: string;
  filterSelectivity?: string;
  farm?: string;
  adapters?: string;
  insecure?: boolean;
}

/** --farm: the backend on the farm's Redis, with the run's key once the run folder exists. */
async function openFarm(url: string, insecure: boolean | undefined, fingerprint: string | null, quiet: boolean | undefined) {
  const { parseFarmUrl } = await import('../../farm/connection.ts');
  const { FarmBackend } = await import('../../farm/backend.ts');
  return FarmBackend.open({ url: parseFarmUrl(url, { insecure }), runKey: Buffer.alloc(0), datasetFingerprint: fingerprint, onNote: quiet ? undefined : (line) => process.stderr.write(`crinn farm: ${line}\n`) });
}

/** The LLM client's 'waiting for the LLM' lines (every waitNoticeMs while requests are in flight) go to stderr unless --quiet. */
function llmDeps(quiet: boolean | undefined): Parameters<typeof llmProposer>[2] {
  return quiet ? {} : { clientOptions: { onWait: (line: string) => process.stderr.write(`crinn: ${line}\n`) } };
}

/** Evaluator settings journaled with the run (so a resume measures the same way). */
function evaluatorOptions(o: { reps?: string; queries?: string; precision?: string; maxRounds?: string; filterSelectivity?: string }): Record<string, number | FilterSetting> {
  const out: Record<string, number> & { filter?: FilterSetting } = {};
  if (o.reps !== undefined) {
    out.reps = positiveInt(o.reps, '--reps');
    if (out.reps < 3) throw new UserError(`--reps: at least 3 paired rounds are required, got ${out.reps}`);
  }
  if (o.queries !== undefined) out.queriesPerCall = positiveInt(o.queries, '--queries');
  if (o.precision !== undefined) {
    const x = Number(o.precision);
    if (!(o.precision.trim() !== '' && Number.isFinite(x) && x > 0 && x < 1)) throw new UserError(`--precision: expected a relative half-width in (0, 1), got '${o.precision}'`);
    out.precision = x;
  }
  if (o.maxRounds !== undefined) {
    out.maxRounds = positiveInt(o.maxRounds, '--max-rounds');
    if (out.maxRounds < (out.reps ?? 3)) throw new UserError(`--max-rounds: must be at least --reps (${out.reps ?? 3}), got ${out.maxRounds}`);
  }
  // A filtered run (a dataset setting): journaled with the evaluator's options, so resume keeps it.
  if (o.filterSelectivity !== undefined) out.filter = { selectivity: parseFilterSelectivity(o.filterSelectivity) };
  return out;
}

function parseSpread(s: string): number {
  const x = Number(s);
  if (!(s.trim() !== '' && Number.isFinite(x) && x >= 0 && x < 1)) throw new UserError(`--spread: expected a reward spread in [0, 1), got '${s}'`);
  return x;
}

export function registerOptimizeCommands(program: Command): void {
  program
    .command('optimize')
    .description('evolve the modules for this adapter and dataset (stages graph -> search -> refine); keeps every result in a run folder')
    .option('--dataset <name|path>', 'dataset name or file (see `crinn dataset list`)', DEFAULT_DATASET)
    .option('--policy <policy>', 'proposal policy: autotune (knob search, no LLM), llm (contrastive LLM over an OpenAI-compatible endpoint; see prompts/README.md), mixed (LLM groups for code, autotune bursts for knobs on the best code), or auto (llm when OPENAI_API_KEY or --llm-config is set, else autotune)', 'autotune')
    .option('--llm-config <file>', 'LLM settings JSON for --policy llm (endpoint, model, samples per prompt, budget; see prompts/README.md)')
    .option('--stages <list>', 'stages in order, comma-separated', MODULE_NAMES.join(','))
    .option('--budget <evals|duration>', 'evaluations (40), wall time (90s, 5m, 1h) or both (40,5m) for the whole run', DEFAULT_BUDGET)
    .option('--run-dir <dir>', 'run folder (default $CRINN_RUNS_DIR or ./out/runs, then a new name)')
    .option('--seed <n>', 'seed of the proposals and of the evaluator', '1')
    .option('--spread <x>', "override: count a reward as a gain when it beats the best by more than x (default: when its 95% interval lies above the best)")
    .option('--patience <n>', 'evaluations without a gain before a stage stops', '8')
    .option('--reps <n>', 'evaluator: paired rounds before the interval may stop an evaluation (>= 3; default 3)')
    .option('--queries <n>', 'evaluator: queries per timed call, each distinct (default 64)')
    .option('--precision <x>', 'evaluator: relative half-width of the reward interval to reach (default 0.1); wider after the last round is inconclusive')
    .option('--max-rounds <n>', 'evaluator: most paired rounds per evaluation (default 10)')
    .option('--filter-selectivity <s>', 'evaluator: a filtered run; every query gets a label filter passing about this fraction of the base, in (0, 1] (kept by resume; see crinn evaluate)')
    .option('--farm <url>', 'evaluate on an evaluation farm: workers (`crinn worker`) on the Redis at redis://:PASSWORD@HOST:PORT')
    .option('--adapters <list>', 'with --farm: the adapters to tune, comma-separated text matched in the workers\' adapter names (default every adapter served); one bundle each')
    .option('--insecure', 'with --farm: allow a Redis without a password (a trusted network only)')
    .addOption(new Option('--evaluator <module>', 'module exporting evaluate() (and baseline()) instead of the real evaluator').hideHelp())
    .action(async (o: OptimizeOpts, cmd: Command) => {
      const g = globals(cmd);
      // auto (what npm start uses): the LLM when one is configured, else autotune, so the main job runs anywhere.
      if (o.policy === 'auto') o.policy = o.llmConfig || process.env.OPENAI_API_KEY ? 'llm' : 'autotune';
      if (o.policy !== 'autotune' && o.policy !== 'llm' && o.policy !== 'mixed') throw new UserError(`--policy: unknown policy '${o.policy}'; allowed: autotune, llm, mixed, auto`);
      // Checked before the run folder exists: a missing key fails with nothing written.
      const llm = o.policy !== 'autotune' ? loadLlmConfig({ file: o.llmConfig, requireKey: true }) : undefined;
      const seed = nonNegativeInt(o.seed, '--seed');
      if (o.adapters !== undefined && o.farm === undefined) throw new UserError('--adapters: needs --farm (the adapters are those the farm\'s workers serve)');
      if (o.insecure && o.farm === undefined) throw new UserError('--insecure: needs --farm');
      const config: RunConfig = {
        dataset: o.dataset ?? DEFAULT_DATASET,
        policy: o.policy as RunConfig['policy'],
        ...(llm ? { llm: llmSettings(llm) } : {}),
        stages: parseStages(o.stages),
        budget: parseBudget(o.budget),
        seed,
        ...(o.spread !== undefined ? { spread: parseSpread(o.spread) } : {}),
        patience: positiveInt(o.patience, '--patience'),
        evaluator: evaluatorOptions(o),
      };
      const runDir = o.runDir ?? path.join(runsRoot(), newRunId(config.dataset));
      const dirFlag = o.runDir !== undefined ? '--run-dir' : process.env.CRINN_RUNS_DIR !== undefined ? 'CRINN_RUNS_DIR' : 'run folder';
      // A file, a folder under /proc or an unwritable parent: one line now, nothing created.
      planDir(runDir, dirFlag);
      if (existsSync(runDir) && readdirSync(runDir).length > 0) {
        throw new UserError(`--run-dir: ${runDir} is not empty${existsSync(path.join(runDir, 'journal.jsonl')) ? `; continue it with \`crinn resume ${runDir}\`` : ''}`);
      }
      // A dataset that does not load fails here, before the run folder exists.
      const ds = o.evaluator ? undefined : await loadDataset(config.dataset, { dataDir: g.dataDir });
      // So does a selectivity its labels cannot reach (one draw of the filters an evaluation makes).
      if (ds && config.evaluator.filter) poolFiltersFor(ds, config.evaluator.filter as FilterSetting, 10, seed, 1);
      let farm: Awaited<ReturnType<typeof openFarm>> | undefined;
      if (o.farm !== undefined) {
        // Redis reachable, password accepted, and a live worker per adapter: checked before the run folder exists.
        farm = await openFarm(o.farm, o.insecure, ds ? datasetFingerprint(ds) : null, g.quiet);
        try {
          const { listWorkers, resolveAdapters } = await import('../../farm/backend.ts');
          const wanted = o.adapters?.split(',').map((x) => x.trim()).filter(Boolean);
          if (o.adapters !== undefined && wanted!.length === 0) throw new UserError(`--adapters: expected a comma-separated list of adapter names, got '${o.adapters}'`);
          config.farm = { adapters: resolveAdapters(await listWorkers(farm.redis), wanted) };
        } catch (err) {
          await farm.close();
          throw err;
        }
        if (!g.quiet) process.stderr.write(`farm: ${config.farm.adapters.length} adapter(s): ${config.farm.adapters.join('; ')}\n`);
      }
      const deps = await loopDeps(o.evaluator, g, farm);
      makeDir(runDir, dirFlag);
      if (farm) farm.useRunKey((await import('../../farm/run-key.ts')).runKey(runDir));
      const proposer = llm ? llmProposer(runDir, llm, llmDeps(g.quiet)) : undefined;
      if (!g.quiet) process.stderr.write(`run folder: ${runDir}\n`);
      try {
        await session(runDir, g.quiet, config.budget.evals, proposer, (onEvent) => startRun(runDir, config, { ...deps, onEvent, propose: proposer?.propose }));
      } finally {
        await farm?.close();
      }
      print(`run folder: ${runDir} (crinn runs show ${runDir}; crinn export ${runDir})`);
    });

  program
    .command('resume')
    .description('continue a stopped or killed run from its journal (only evaluations in flight are redone)')
    .argument('<run>', 'run folder (or a run name under $CRINN_RUNS_DIR or ./out/runs)')
    .addOption(new Option('--evaluator <module>', 'module exporting evaluate() (and baseline())').hideHelp())
    .option('--llm-config <file>', 'LLM settings JSON overriding the journaled ones (e.g. a larger budget) for an llm run')
    .option('--farm <url>', 'a farm run: the farm\'s Redis (jobs still in flight there are picked up, not run twice)')
    .option('--insecure', 'with --farm: allow a Redis without a password')
    .action(async (run: string, o: { evaluator?: string; llmConfig?: string; farm?: string; insecure?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const runDir = resolveRun(run);
      const before = loadRun(runDir);
      if (before.config.farm && o.farm === undefined) throw new UserError(`${runDir}: a farm run (adapters ${before.config.farm.adapters.join('; ')}): give --farm URL`);
      if (!before.config.farm && o.farm !== undefined) throw new UserError(`--farm: ${runDir} was run on this machine, not on a farm`);
      const proposer = before.config.policy !== 'autotune' ? llmProposer(runDir, configOfRun(before, { file: o.llmConfig }), llmDeps(g.quiet)) : undefined;
      let farm: Awaited<ReturnType<typeof openFarm>> | undefined;
      if (o.farm !== undefined) {
        let fp: string | null = null;
        if (!o.evaluator) fp = datasetFingerprint(await loadDataset(before.config.dataset, { dataDir: g.dataDir }));
        farm = await openFarm(o.farm, o.insecure, fp, g.quiet);
        farm.useRunKey((await import('../../farm/run-key.ts')).runKey(runDir));
      }
      const deps = { ...(await loopDeps(o.evaluator, g, farm)), propose: proposer?.propose };
      try {
        await session(runDir, g.quiet, undefined, proposer, (onEvent) => resumeRun(runDir, { ...deps, onEvent }));
      } finally {
        await farm?.close();
      }
    });
}

/**
 * One driving session of a run (optimize or resume): progress while it runs, then the LLM
 * policy's open groups written out, the summary, why it stopped early, and the run report.
 */
async function session(runDir: string, quiet: boolean | undefined, budgetEvals: number | undefined, proposer: LlmProposer | undefined, drive: (onEvent: (ev: LoopEvent) => void) => Promise<RunState>): Promise<void> {
  const progress = loopProgress(quiet, budgetEvals);
  let st: RunState;
  try {
    st = await drive(progress.onEvent);
  } finally {
    progress.stop();
  }
  proposer?.finish(st);
  const lanes = laneNames(st.config);
  if (lanes[0] === undefined) print(renderSummary(st));
  else for (const lane of lanes) print(`adapter ${lane}\n${renderSummary(loadRun(runDir, lane))}`);
  if (proposer?.stopped()) print(`stopped: ${proposer.stopped()}; continue with \`crinn resume ${runDir}\``);
  await endReport(runDir, quiet);
}

/** RUN/report.html at the end of a session; a failure to write it is a note, never the run's failure. */
async function endReport(runDir: string, quiet: boolean | undefined): Promise<void> {
  try {
    const file = await writeRunReport(runDir);
    if (!quiet) process.stderr.write(`report: ${file}\n`);
  } catch (err) {
    process.stderr.write(`crinn: run report not written: ${oneLine(err)}\n`);
  }
}

/** A run folder as given, or a run name under the runs root. */
export function resolveRun(run: string): string {
  if (existsSync(path.join(run, 'journal.jsonl'))) return run;
  const named = path.join(runsRoot(), run);
  if (existsSync(path.join(named, 'journal.jsonl'))) return named;
  throw new UserError(`${run}: not a run folder (no journal.jsonl there or under ${runsRoot()})`);
}
