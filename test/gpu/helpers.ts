/** Shared GPU fixtures: one real Dawn device per test file, seeded random data. */
import { openGpu, type GpuContext } from '../../src/gpu/device.ts';
import type { VectorSet } from '../../src/data/types.ts';
import { seededRng } from '../../src/bench/sweep.ts';

/** Opens the machine's default adapter (lavapipe in CI). A missing adapter fails the test: GPU tests never skip. */
export function openTestGpu(): Promise<GpuContext> {
  return openGpu({ backend: process.env.CRINN_TEST_BACKEND as 'vulkan' | undefined });
}

export function randomSet(n: number, dim: number, seed: number): VectorSet {
  const r = seededRng(seed);
  const data = new Float32Array(n * dim);
  for (let i = 0; i < data.length; i++) data[i] = r() * 2 - 1;
  return { data, n, dim };
}
