/** The `crinn` command line: parses arguments, dispatches to src/, maps errors to exit codes. */
import { Command, CommanderError } from 'commander';
import { exitCodeFor, oneLine } from '../errors.ts';
import { registerDatasetCommands } from './commands/dataset.ts';
import { registerAdapterCommands } from './commands/adapters.ts';
import { registerGroundTruthCommand } from './commands/groundtruth.ts';
import { registerBenchCommands } from './commands/bench.ts';
import { registerIndexCommands } from './commands/index-commands.ts';
import { registerVariantCommands } from './commands/variant.ts';
import { registerEvaluateCommand } from './commands/evaluate.ts';
import { registerOptimizeCommands } from './commands/optimize.ts';
import { registerRunsCommands } from './commands/runs.ts';
import { registerExportCommand } from './commands/export.ts';
import { registerPromptCommands } from './commands/prompt.ts';
import { registerWorkerCommand } from './commands/worker.ts';
import { VERSION } from '../version.ts';
import { shareGlobalOptions, validateGlobals } from './context.ts';

export function buildProgram(): Command {
  const program = new Command('crinn')
    .description('ANN search kernels in WGSL on any WebGPU adapter, tuned by contrastive RL (CRINN)')
    .version(VERSION)
    .option('--data-dir <dir>', 'folder with named datasets (default $CRINN_DATA_DIR)')
    .option('--adapter <name>', 'use the adapter whose name contains this text (see `crinn adapters`)')
    .option('--backend <backend>', 'Dawn backend: vulkan, opengles, opengl, metal, d3d12, d3d11')
    .option('--power <preference>', 'adapter power preference: high-performance or low-power')
    .option('--quiet', 'no progress bars or chatter on stderr')
    .option('--verbose', 'print generated WGSL and extra diagnostics to stderr')
    .showHelpAfterError()
    .exitOverride()
    // Before the subcommands are added, so they inherit it (see shareGlobalOptions).
    .enablePositionalOptions()
    // Global flags and environment variables are checked before any command does work.
    .hook('preAction', (_root, action) => validateGlobals(action.optsWithGlobals()));
  registerAdapterCommands(program);
  registerDatasetCommands(program);
  registerGroundTruthCommand(program);
  registerIndexCommands(program);
  registerBenchCommands(program);
  registerVariantCommands(program);
  registerEvaluateCommand(program);
  registerOptimizeCommands(program);
  registerRunsCommands(program);
  registerExportCommand(program);
  registerPromptCommands(program);
  registerWorkerCommand(program);
  shareGlobalOptions(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  // Commander's exitOverride is per command.
  const walk = (c: Command): void => { c.exitOverride(); c.commands.forEach(walk); };
  walk(program);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; usage errors were already printed by commander.
      return err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 1;
    }
    process.stderr.write(`crinn: ${oneLine(err)}\n`);
    if (process.env.CRINN_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return exitCodeFor(err);
  }
}
