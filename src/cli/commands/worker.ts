/** `crinn worker --farm URL`: an evaluation farm worker for this machine's adapter (src/farm/worker.ts). */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Option, type Command } from 'commander';
import { UserError } from '../../errors.ts';
import type { Evaluator } from '../../evolve/backend.ts';
import { assertRegularFileSync } from '../../data/vecs.ts';
import { globals, openFromOptions, optionalPositiveInt, print } from '../context.ts';

interface WorkerOpts {
  farm?: string;
  insecure?: boolean;
  name?: string;
  cache?: string;
  evaluator?: string;
  asAdapter?: string;
  lockMs?: string;
  stalledMs?: string;
  contract?: string;
}

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description("serve an evaluation farm: take jobs for this adapter (--adapter, --backend) from Redis, one at a time, evaluate them in the sandbox, return the verdicts")
    .option('--farm <url>', 'the farm\'s Redis: redis://:PASSWORD@HOST:PORT')
    .option('--insecure', 'allow a Redis without a password (a trusted network only)')
    .option('--name <id>', 'worker id shown in reports (default HOST-PID)')
    .option('--cache <dir>', 'where job variants are stored (default ~/.cache/crinn/farm-variants)')
    .addOption(new Option('--evaluator <module>', 'module exporting evaluate() instead of the real evaluator (tests)').hideHelp())
    .addOption(new Option('--as-adapter <name>', 'serve this adapter name without opening the GPU (tests, with --evaluator)').hideHelp())
    .addOption(new Option('--lock-ms <n>', 'BullMQ lock duration: a job whose worker died is retried after it (default 30000)').hideHelp())
    .addOption(new Option('--stalled-ms <n>', 'BullMQ stalled-job check interval (default 30000)').hideHelp())
    .addOption(new Option('--contract <n>', 'claim another farm contract version (tests of the refusal)').hideHelp())
    .action(async (o: WorkerOpts, cmd: Command) => {
      const g = globals(cmd);
      if (o.farm === undefined) throw new UserError('--farm: required (redis://:PASSWORD@HOST:PORT)');
      // Loaded here, not at start-up: BullMQ and ioredis cost every other command ~0.5 s.
      const { parseFarmUrl } = await import('../../farm/connection.ts');
      const { defaultCacheDir, startWorker } = await import('../../farm/worker.ts');
      const url = parseFarmUrl(o.farm, { insecure: o.insecure });
      let evaluate: Evaluator;
      if (o.evaluator) {
        if (!existsSync(o.evaluator)) throw new UserError(`--evaluator: ${o.evaluator} does not exist`);
        assertRegularFileSync(o.evaluator);
        const m = (await import(pathToFileURL(path.resolve(o.evaluator)).href)) as { evaluate?: Evaluator };
        if (typeof m.evaluate !== 'function') throw new UserError(`--evaluator: ${o.evaluator} exports no evaluate function`);
        evaluate = m.evaluate;
      } else {
        const { realEvaluator } = await import('../../evolve/evaluator-adapter.ts');
        evaluate = realEvaluator({ adapter: g.adapter, backend: g.backend, dataDir: g.dataDir, onProgress: g.quiet ? undefined : (line) => process.stderr.write(`crinn: ${line}\n`) });
      }
      let adapter = o.asAdapter;
      if (adapter === undefined) {
        // The adapter the evaluator's children will open (same --adapter/--backend): its full name is the queue.
        const ctx = await openFromOptions(g);
        adapter = ctx.adapter.name;
        ctx.destroy?.();
      }
      const log = (line: string) => process.stderr.write(`crinn worker: ${line}\n`);
      const w = await startWorker({
        url, adapter, evaluate, cacheDir: o.cache ?? defaultCacheDir(), dataDir: g.dataDir, id: o.name,
        lockMs: optionalPositiveInt(o.lockMs, '--lock-ms'), stalledMs: optionalPositiveInt(o.stalledMs, '--stalled-ms'),
        contract: optionalPositiveInt(o.contract, '--contract'), log,
      });
      print(`worker ${w.id}: adapter '${adapter}', queue ${w.queue} on ${url.display}`);
      const code = await w.done;
      if (code === 3) throw new UserError('worker stopped: it was sent a job of another crinn version (see the line above)');
      if (code !== 0) throw new Error('worker stopped: the farm connection failed');
    });
}
