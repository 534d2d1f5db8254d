import { describe, expect, it } from 'vitest';
import { createArena } from '../../src/graph/arena.ts';
import { WorkerPool } from '../../src/graph/pool.ts';
import { gaussianMixture } from './helpers.ts';

describe('worker pool', () => {
  it('runs ops on every thread and reports worker errors as rejections', async () => {
    const base = gaussianMixture(100, 8, 2, 0.5, 1);
    const pool = await WorkerPool.create(createArena(base.data, 100, 8, true, 2), 2);
    try {
      expect(await pool.run('ping', () => null)).toEqual([null, null]);
      await expect(pool.run('no-such-op', () => null)).rejects.toThrow("unknown build op 'no-such-op'");
      // Another thread may still be inside a failed op, so the pool refuses further work.
      await expect(pool.run('ping', () => null)).rejects.toThrow("unknown build op 'no-such-op'");
    } finally {
      await pool.close();
    }
    await expect(pool.run('ping', () => null)).rejects.toThrow(/closed/);
  });

  it('runs inline with one thread', async () => {
    const base = gaussianMixture(10, 4, 2, 0.5, 1);
    const pool = await WorkerPool.create(createArena(base.data, 10, 4, true, 1), 1);
    expect(await pool.run('ping', () => null)).toEqual([null]);
    await expect(pool.run('no-such-op', () => null)).rejects.toThrow('unknown build op');
    await pool.close();
  });
});
