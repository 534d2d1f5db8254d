import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { setSlowWaitListener, watchdog } from '../../src/gpu/watchdog.ts';
import { showSlowGpuWaits } from '../../src/cli/slow-wait.ts';

const sleep = (ms: number) => new Promise<string>((r) => setTimeout(() => r('done'), ms));

afterEach(() => setSlowWaitListener(undefined));

describe('progress for slow GPU waits', () => {
  it('reports a wait only once it has lasted a second, with its duration, and never a fast one', async () => {
    const seen: string[] = [];
    setSlowWaitListener({ start: (w) => seen.push(`start ${w}`), end: (w, ms) => seen.push(`end ${w} ${ms >= 1200}`) });
    expect(await watchdog(sleep(50), 'fast', 10_000)).toBe('done');
    expect(seen).toEqual([]);
    expect(await watchdog(sleep(1300), 'compile', 10_000)).toBe('done');
    expect(seen).toEqual(['start compile', 'end compile true']);
  });

  it('writes a start and an end line when stderr is not a terminal', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c) => { text += c; });
    showSlowGpuWaits(out as unknown as NodeJS.WriteStream);
    await watchdog(sleep(1100), 'read back knn', 10_000);
    expect(text).toMatch(/^GPU: waiting for read back knn \(the first run on a machine compiles each kernel\)\.\.\.\nGPU: read back knn took 1\.\d s\n$/);
  });
});
