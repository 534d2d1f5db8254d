import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

/**
 * `*.timed.test.ts`: files that time something or wait on a clock (the evaluator's paired rounds
 * and intervals, sandbox and call timeouts, signals, the farm's heartbeats). They run one at a time,
 * alone, after the rest: the file name is the group, so a new timed file cannot land among the
 * parallel ones by a forgotten list entry. Everything else is correctness against an oracle and runs
 * two files at a time: most of it is single-threaded JavaScript (builds, CPU references, CLI
 * start-ups), which a second core halves; two lavapipe (or SwiftShader) files share the cores at no
 * loss. Benches through the CLI there assert recall, never speed.
 */
const TIMED = ['test/**/*.timed.test.ts'];

// A hang's limit, not a speed goal: a cold shader cache on a loaded 2-core machine makes a GPU test
// several times slower than its usual seconds (filter.test's 0.5 cases: 10 s quiet, 120 s at load 11).
const common = {
  testTimeout: 300_000,
  hookTimeout: 300_000,
  pool: 'forks' as const,
};

/**
 * The correctness files ask lavapipe for unoptimised shader code (gallivm's `nopt`): on a fresh
 * machine compiling each kernel specialisation is most of their CPU time, and their answers do not
 * depend on codegen (filter + chunked-bindings: 59 -> 43 s wall, 105 -> 76 s CPU, cold cache). Its
 * own shader cache, so the timed files never run an unoptimised kernel cached here. Other drivers
 * ignore both variables.
 */
const UNOPTIMISED_SHADERS = { GALLIVM_PERF: 'nopt', MESA_SHADER_CACHE_DIR: join(tmpdir(), 'crinn-tests-mesa-nopt') };

export default defineConfig({
  test: {
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      { test: { ...common, name: 'oracle', include: ['test/**/*.test.ts'], exclude: TIMED, maxWorkers: 2, env: UNOPTIMISED_SHADERS, sequence: { groupOrder: 0 } } },
      { test: { ...common, name: 'timed', include: TIMED, maxWorkers: 1, sequence: { groupOrder: 1 } } },
    ],
  },
});
