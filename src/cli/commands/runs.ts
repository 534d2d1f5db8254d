/** `crinn runs list` and `crinn runs show RUN`: the run folders, a run's leaderboard and lineage. */
import type { Command } from 'commander';
import { listRuns, loadRun, renderLeaderboard, renderLineage, renderRunList, renderSummary } from '../../evolve/runs.ts';
import { positiveInt, print } from '../context.ts';
import { resolveRun, runsRoot } from './optimize.ts';

export function registerRunsCommands(program: Command): void {
  const runs = program.command('runs').description('optimisation runs: list them, show one');
  runs
    .command('list')
    .description('run folders under $CRINN_RUNS_DIR or ./out/runs (or --dir), newest first')
    .option('--dir <dir>', 'folder holding run folders')
    .action((o: { dir?: string }) => {
      print(renderRunList(listRuns(o.dir ?? runsRoot())));
    });
  runs
    .command('show')
    .description("a run's per-stage summary, leaderboard and the lineage of each stage's best")
    .argument('<run>', 'run folder or run name')
    .option('--top <n>', 'variants per stage in the leaderboard', '10')
    .action((run: string, o: { top: string }) => {
      const st = loadRun(resolveRun(run));
      print([renderSummary(st), '', renderLeaderboard(st, positiveInt(o.top, '--top')), 'lineage', renderLineage(st) || '(nothing evaluated yet)'].join('\n'));
    });
}
