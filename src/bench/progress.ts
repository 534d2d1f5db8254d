/**
 * Bench progress on stderr: a cli-progress bar on a terminal, one plain line per event when stderr
 * is not a TTY (CI logs, pipes), nothing with --quiet. Stdout stays clean for tables and JSON.
 */
import cliProgress from 'cli-progress';
import type { BenchEvent } from './run.ts';

export interface BenchProgress {
  onProgress: (ev: BenchEvent) => void;
  /** Ends the bar (idempotent); call before printing results. */
  stop: () => void;
}

export interface ProgressOptions {
  quiet?: boolean;
  stream?: NodeJS.WriteStream;
}

function describe(ev: BenchEvent): string {
  switch (ev.type) {
    case 'groundtruth':
      return ev.state === 'start' ? 'ground truth: exact kNN on the GPU...' : `ground truth: ${ev.cached ? 'from cache' : `computed in ${ev.seconds?.toFixed(2)} s`}`;
    case 'build':
      if (ev.state === 'start') return `build ${ev.system}...`;
      return ev.state === 'done' ? `build ${ev.system}: ${ev.seconds?.toFixed(2)} s` : `build ${ev.system} failed: ${ev.error}`;
    case 'sweep':
      return `sweep ${ev.systems.join(', ')} (interleaved, ~${ev.plannedPoints} points)`;
    case 'point':
      return `${ev.system} effort ${ev.effort}: recall ${ev.recall.toFixed(4)}, ${Math.round(ev.qps).toLocaleString('en-US')} QPS`;
    case 'error':
      return `${ev.system} stopped: ${ev.error}`;
  }
}

export function benchProgress(opts: ProgressOptions = {}): BenchProgress {
  if (opts.quiet) return { onProgress: () => {}, stop: () => {} };
  const stream = opts.stream ?? process.stderr;
  if (!stream.isTTY) {
    return { onProgress: (ev) => stream.write(`${describe(ev)}\n`), stop: () => {} };
  }
  let bar: cliProgress.SingleBar | undefined;
  // Errors during the sweep are printed once the bar is gone, so the bar never overwrites them.
  const held: string[] = [];
  const stop = () => {
    bar?.stop();
    bar = undefined;
    for (const line of held.splice(0)) stream.write(`${line}\n`);
  };
  return {
    stop,
    onProgress(ev) {
      if (ev.type === 'sweep') {
        bar = new cliProgress.SingleBar(
          { stream, format: 'sweep {bar} {value}/{total} points | {status}', hideCursor: true, clearOnComplete: false },
          cliProgress.Presets.shades_classic,
        );
        bar.start(ev.plannedPoints, 0, { status: describe(ev) });
      } else if (ev.type === 'point' && bar) {
        bar.setTotal(ev.plannedPoints);
        bar.update(ev.index, { status: describe(ev) });
      } else if (bar) {
        held.push(describe(ev));
        bar.update({ status: describe(ev) });
      } else {
        stream.write(`${describe(ev)}\n`);
      }
    },
  };
}
