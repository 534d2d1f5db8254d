/** Shared GPU fixtures: one real Dawn device per test file, seeded random data. */
import { openGpu, type GpuContext } from '../../src/gpu/device.ts';
import type { VectorSet } from '../../src/data/types.ts';

/** Opens the machine's default adapter (lavapipe in CI). A missing adapter fails the test: GPU tests never skip. */
export function openTestGpu(): Promise<GpuContext> {
  return openGpu({ backend: process.env.CRINN_TEST_BACKEND as 'vulkan' | undefined });
}

export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomSet(n: number, dim: number, seed: number): VectorSet {
  const r = rng(seed);
  const data = new Float32Array(n * dim);
  for (let i = 0; i < data.length; i++) data[i] = r() * 2 - 1;
  return { data, n, dim };
}
