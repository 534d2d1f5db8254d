/** `crinn prompt show --module M RUN`: the prompt the llm policy would send next for a module of a run. */
import type { Command } from 'commander';
import { createHash } from 'node:crypto';
import { loadLlmConfig } from '../../evolve/llm/config.ts';
import { LlmPolicy } from '../../evolve/llm/policy.ts';
import { policyContext } from '../../evolve/llm/run-context.ts';
import { parseModuleName } from '../../evolve/modules.ts';
import { loadRun } from '../../evolve/runs.ts';
import { print } from '../context.ts';
import { UserError } from '../../errors.ts';

export function registerPromptCommands(program: Command): void {
  const prompt = program.command('prompt').description('prompts of the llm policy');
  prompt
    .command('show')
    .description('print the prompt the llm policy would send next for a module of a run (no request is made)')
    .argument('<run>', 'run folder')
    .requiredOption('--module <module>', 'graph, search or refine')
    .option('--llm-config <file>', 'LLM config JSON (exemplar count and temperature; see prompts/README.md)')
    .option('--json', 'print the chat messages as JSON')
    .action((run: string, o: { module: string; llmConfig?: string; json?: boolean }) => {
      const module = parseModuleName(o.module);
      const st = loadRun(run);
      if (!st.config.stages.includes(module)) throw new UserError(`--module: run ${run} has no stage '${module}' (stages: ${st.config.stages.join(', ')})`);
      const config = loadLlmConfig({ file: o.llmConfig });
      // Only builds the prompt: the hash function is never used, no request is sent.
      const policy = new LlmPolicy(run, config, { hashOf: () => createHash('sha256').digest('hex') });
      const built = policy.prompt(policyContext(run, st, module));
      if (o.json) return print(JSON.stringify(built.messages, null, 2));
      for (const m of built.messages) {
        print(`======== ${m.role} ========`);
        print(m.content);
        print('');
      }
    });
}
