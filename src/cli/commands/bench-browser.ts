/** `crinn bench --browser`: the options' checks, then src/bench/browser-bench.ts. */
import { existsSync } from 'node:fs';
import { UserError } from '../../errors.ts';
import type { Dataset } from '../../data/types.ts';
import type { GpuContext } from '../../gpu/device.ts';
import type { BenchEvent } from '../../bench/run.ts';
import type { BenchResult } from '../../bench/schema.ts';
import { runBrowserBench } from '../../bench/browser-bench.ts';
import { readBundleFolder } from '../../bench/browser-server.ts';

export interface BrowserCliOptions {
  browserPath?: string;
  bundle?: string;
  peers?: string;
  systems?: string;
}

export async function runBrowserBenchCommand(
  o: BrowserCliOptions,
  r: { dataset: Dataset; k: number; reps: number; seed: number; storage?: string; progress?: (ev: BenchEvent) => void; open: () => Promise<GpuContext>; kernel?: string; kernelStorage?: string },
): Promise<BenchResult> {
  if (o.peers !== undefined || (o.systems !== undefined && o.systems !== 'crinn')) throw new UserError('--browser: runs the crinn search only; drop --peers/--systems (bench the peers in a plain run and compare the files)');
  if (o.bundle !== undefined) {
    if (!existsSync(o.bundle)) throw new UserError(`--bundle: ${o.bundle} does not exist`);
    readBundleFolder(o.bundle); // a bad manifest fails here, before the index is built
  }
  return runBrowserBench({
    dataset: r.dataset,
    k: r.k,
    reps: r.reps,
    seed: r.seed,
    storage: r.storage as 'f16' | 'f32' | undefined,
    browserPath: o.browserPath,
    bundleDir: o.bundle,
    kernelDir: r.kernel,
    kernelStorage: r.kernelStorage as 'f16' | 'f32' | undefined,
    onProgress: r.progress,
    ctxProvider: r.open,
  });
}
