/** `crinn evaluate`: one variant folder against its module's baseline; prints the verdict. */
import { existsSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { UserError } from '../../errors.ts';
import { withTempFile } from '../../data/vecs.ts';
import { evaluateVariant } from '../../evolve/evaluate.ts';
import type { Verdict } from '../../evolve/contract.ts';
import { globals, positiveInt, print } from '../context.ts';
import { checkOutputs } from '../paths.ts';
import { watchOutputs } from '../signals.ts';

const fmt = (x: number | null, d = 1) => (x === null ? '-' : x.toFixed(d));

function render(v: Verdict): string {
  const lines = [
    `${v.status} (stage ${v.stage}) ${v.module} variant ${v.variantHash.slice(0, 12)} on ${v.dataset}, ${v.adapter || 'adapter unknown'}, ${v.seconds.toFixed(1)} s`,
    `  reason: ${v.reason}`,
  ];
  if (v.status === 'ok') {
    lines.push(`  reward ${fmt(v.reward, 3)}  variant AUC ${fmt(v.variantAuc)}  baseline AUC ${fmt(v.baselineAuc)}  QPS@0.90 ${fmt(v.qpsAt90)}  @0.95 ${fmt(v.qpsAt95)}  @0.99 ${fmt(v.qpsAt99)}`);
  }
  for (const [name, c] of [['variant', v.variantCurve], ['baseline', v.baselineCurve]] as const) {
    if (c.length) lines.push(`  ${name.padEnd(8)} ${c.map((p) => `${p.effort}:${p.recall.toFixed(3)}@${Math.round(p.qps)}`).join('  ')}`);
  }
  return lines.join('\n');
}

export function registerEvaluateCommand(program: Command): void {
  program
    .command('evaluate')
    .description('evaluate a variant folder against the baseline of its module (sandboxed, interleaved); exit 0 whenever a verdict was produced')
    .requiredOption('--variant <dir>', "variant folder (see 'crinn variant init')")
    .option('--dataset <name|path>', 'dataset name or path', 'siftsmall-5k')
    .option('--json <file>', 'also write the verdict as JSON')
    .option('--queries <n>', 'fresh queries per timed call', '200')
    .option('--reps <n>', 'timed repetitions per point', '5')
    .option('--seed <n>', 'seed of query draws and measurement order (default random)')
    .action(async (o: { variant: string; dataset: string; json?: string; queries: string; reps: string; seed?: string }, cmd: Command) => {
      const g = globals(cmd);
      if (!existsSync(o.variant) || !statSync(o.variant).isDirectory()) throw new UserError(`--variant: '${o.variant}' is not a folder`);
      if (o.json) {
        await checkOutputs([{ path: o.json, flag: '--json' }], []);
        watchOutputs([o.json]);
      }
      const verdict = await evaluateVariant({
        variantDir: o.variant,
        dataset: o.dataset,
        dataDir: g.dataDir,
        adapter: { adapter: g.adapter, backend: g.backend },
        queriesPerCall: positiveInt(o.queries, '--queries'),
        reps: positiveInt(o.reps, '--reps'),
        seed: o.seed === undefined ? undefined : positiveInt(o.seed, '--seed'),
        onProgress: g.quiet ? undefined : (line) => process.stderr.write(`crinn: ${line}\n`),
      });
      if (o.json) await withTempFile(o.json, (tmp) => writeFile(tmp, `${JSON.stringify(verdict, null, 2)}\n`));
      print(render(verdict));
    });
}
