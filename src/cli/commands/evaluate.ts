/** `crinn evaluate`: one variant folder against its module's baseline; prints the verdict. */
import { existsSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { UserError } from '../../errors.ts';
import { withTempFile } from '../../data/vecs.ts';
import { evaluateVariant } from '../../evolve/evaluate.ts';
import type { Verdict } from '../../evolve/contract.ts';
import { rewardText } from '../../evolve/reward-text.ts';
import { globals, MAX_SEED, positiveInt, print } from '../context.ts';
import { loadVariant } from '../../evolve/modules.ts';
import { checkOutputs, folderFiles, type NamedPath } from '../../data/output-paths.ts';
import { watchOutputs } from '../signals.ts';
import { parseFilterSelectivity } from '../../evolve/pool-filter.ts';

const fmt = (x: number | null, d = 1) => (x === null ? '-' : x.toFixed(d));

function render(v: Verdict): string {
  const lines = [
    `${v.status} (stage ${v.stage}) ${v.module} variant ${v.variantHash.slice(0, 12)} on ${v.dataset}, ${v.adapter || 'adapter unknown'}, ${v.seconds.toFixed(1)} s`,
    `  reason: ${v.reason}`,
  ];
  if (v.status === 'ok') {
    lines.push(`  reward ${rewardText(v)}${v.interval ? ` (${(100 * v.interval.level).toFixed(1)}% interval, ${v.interval.rounds} paired rounds)` : ''}  variant AUC ${fmt(v.variantAuc)}  baseline AUC ${fmt(v.baselineAuc)}  QPS@0.90 ${fmt(v.qpsAt90)}  @0.95 ${fmt(v.qpsAt95)}  @0.99 ${fmt(v.qpsAt99)}`);
  }
  for (const [name, c] of [['variant', v.variantCurve], ['baseline', v.baselineCurve]] as const) {
    if (c.length) lines.push(`  ${name.padEnd(8)} ${c.map((p) => `${p.effort}:${p.recall.toFixed(3)}@${Math.round(p.qps)}`).join('  ')}`);
  }
  return lines.join('\n');
}

export function registerEvaluateCommand(program: Command): void {
  program
    .command('evaluate')
    .description('evaluate a variant folder against the baseline of its module (sandboxed, interleaved); exit 0 whenever a verdict was produced (a variant that fails to compile or to search correctly is a verdict), 1 for bad input (a flag, or a variant folder that does not load: variant.json missing or invalid, a file missing or linked outside the folder)')
    .requiredOption('--variant <dir>', "variant folder (see 'crinn variant init')")
    .option('--dataset <name|path>', 'dataset name or path', 'siftsmall-5k')
    .option('--json <file>', 'also write the verdict as JSON')
    .option('--queries <n>', 'distinct queries per timed call (default 64)')
    .option('--reps <n>', 'paired rounds before the interval may stop the evaluation (default 12)')
    .option('--max-rounds <n>', 'most paired rounds (default 30)')
    .option('--precision <x>', 'relative half-width of the reward interval to reach (default 0.1); wider after the last round is inconclusive')
    .option('--seed <n>', 'seed of query draws and measurement order (default random)')
    .option('--filter-selectivity <s>', 'a filtered evaluation: every query gets an any-of label filter passing about this fraction of the base, in (0, 1] (the dataset\'s labels, else seeded Zipf labels); recall is against the exact top-k among passing rows and every returned id must pass')
    .action(async (o: { variant: string; dataset: string; json?: string; queries?: string; reps?: string; maxRounds?: string; precision?: string; seed?: string; filterSelectivity?: string }, cmd: Command) => {
      const g = globals(cmd);
      if (!existsSync(o.variant) || !statSync(o.variant).isDirectory()) throw new UserError(`--variant: '${o.variant}' is not a folder`);
      // A folder that does not load is bad input (exit 1, one line naming the file), not a verdict.
      loadVariant(o.variant);
      const queriesPerCall = o.queries === undefined ? undefined : positiveInt(o.queries, '--queries');
      const reps = o.reps === undefined ? undefined : positiveInt(o.reps, '--reps');
      const maxRounds = o.maxRounds === undefined ? undefined : positiveInt(o.maxRounds, '--max-rounds');
      let precision: number | undefined;
      if (o.precision !== undefined) {
        precision = Number(o.precision);
        if (!(o.precision.trim() !== '' && Number.isFinite(precision) && precision > 0 && precision < 1)) throw new UserError(`--precision: expected a relative half-width in (0, 1), got '${o.precision}'`);
      }
      const seed = o.seed === undefined ? undefined : positiveInt(o.seed, '--seed', undefined, MAX_SEED);
      const filter = o.filterSelectivity === undefined ? undefined : { selectivity: parseFilterSelectivity(o.filterSelectivity) };
      if (o.json) {
        // The verdict must not land on the variant's own files (variant.json, its WGSL) or the dataset file.
        const inputs: NamedPath[] = [...folderFiles(o.variant).map((f) => ({ path: f, flag: '--variant' })), ...(existsSync(o.dataset) ? [{ path: o.dataset, flag: '--dataset' }] : [])];
        await checkOutputs([{ path: o.json, flag: '--json' }], inputs);
        watchOutputs([o.json]);
      }
      const verdict = await evaluateVariant({
        variantDir: o.variant,
        dataset: o.dataset,
        dataDir: g.dataDir,
        adapter: { adapter: g.adapter, backend: g.backend },
        queriesPerCall,
        reps,
        maxRounds,
        precision,
        seed,
        filter,
        onProgress: g.quiet ? undefined : (line) => process.stderr.write(`crinn: ${line}\n`),
      });
      if (o.json) await withTempFile(o.json, (tmp) => writeFile(tmp, `${JSON.stringify(verdict, null, 2)}\n`));
      print(render(verdict));
    });
}
