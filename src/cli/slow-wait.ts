/**
 * Progress for slow GPU waits (watchdog.ts tells us after one second): on a terminal an elapsed
 * counter redrawn in place, elsewhere one line when the wait starts and one when it ends.
 */
import { setSlowWaitListener } from '../gpu/watchdog.ts';

const HINT = 'the first run on a machine compiles each kernel';

export function showSlowGpuWaits(stream: NodeJS.WriteStream = process.stderr): void {
  if (!stream.isTTY) {
    setSlowWaitListener({
      start: (what) => stream.write(`GPU: waiting for ${what} (${HINT})...\n`),
      end: (what, ms) => stream.write(`GPU: ${what} took ${(ms / 1000).toFixed(1)} s\n`),
    });
    return;
  }
  let ticker: NodeJS.Timeout | undefined;
  setSlowWaitListener({
    start(what) {
      const t0 = performance.now() - 1000;
      const draw = () => stream.write(`\r\x1b[2KGPU: ${what}... ${((performance.now() - t0) / 1000).toFixed(0)} s (${HINT})`);
      draw();
      ticker = setInterval(draw, 1000);
      ticker.unref();
    },
    end(what, ms) {
      clearInterval(ticker);
      stream.write(`\r\x1b[2KGPU: ${what} took ${(ms / 1000).toFixed(1)} s\n`);
    },
  });
}
