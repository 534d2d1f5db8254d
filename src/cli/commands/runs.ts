/** `crinn runs list`, `crinn runs show RUN` and `crinn runs report RUN`: the run folders, a run's leaderboard and lineage, its HTML report. */
import type { Command } from 'commander';
import { listRuns, loadRun, renderLeaderboard, renderLineage, renderRunList, renderSummary } from '../../evolve/runs.ts';
import { writeRunReport } from '../../evolve/run-report.ts';
import { farmStats, renderFarmStats } from '../../evolve/farm-stats.ts';
import { laneNames } from '../../evolve/run-state.ts';
import { positiveInt, print } from '../context.ts';
import { resolveRun, runsRoot } from './optimize.ts';

export function registerRunsCommands(program: Command): void {
  const runs = program.command('runs').description('optimisation runs: list them, show one, write its HTML report');
  runs
    .command('list')
    .description('run folders under $CRINN_RUNS_DIR or ./out/runs (or --dir), newest first')
    .option('--dir <dir>', 'folder holding run folders')
    .action((o: { dir?: string }) => {
      print(renderRunList(o.dir !== undefined ? listRuns(o.dir, '--dir') : listRuns(runsRoot(), process.env.CRINN_RUNS_DIR !== undefined ? 'CRINN_RUNS_DIR' : undefined)));
    });
  runs
    .command('show')
    .description("a run's per-stage summary, leaderboard and the lineage of each stage's best")
    .argument('<run>', 'run folder or run name')
    .option('--top <n>', 'variants per stage in the leaderboard', '10')
    .action((run: string, o: { top: string }) => {
      const dir = resolveRun(run);
      const top = positiveInt(o.top, '--top');
      const lanes = laneNames(loadRun(dir).config);
      for (const lane of lanes) {
        // A farm run: each adapter's stages in turn.
        const st = loadRun(dir, lane);
        print([...(lane !== undefined ? [`adapter ${lane}`] : []), renderSummary(st), '', renderLeaderboard(st, top), 'lineage', renderLineage(st) || '(nothing evaluated yet)'].join('\n'));
      }
    });
  runs
    .command('report')
    .description('a self-contained HTML report of a run: reward over time, per-stage summary, lineage, best curve vs baseline')
    .argument('<run>', 'run folder or run name')
    .option('--out <file>', 'HTML file to write (default RUN/report.html)')
    .action(async (run: string, o: { out?: string }) => {
      const dir = resolveRun(run);
      // A farm run: per-worker throughput and per-adapter best rewards (also in the HTML).
      const farm = farmStats(dir);
      if (farm) print(renderFarmStats(farm));
      print(`report: ${await writeRunReport(dir, o.out)}`);
    });
}
