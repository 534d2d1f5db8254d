/**
 * The manifests' knob constraints (constraintSchema in src/bundle/module-manifest.ts), evaluated
 * without a GPU: the autotune policy proposes only settings that satisfy them, and the llm prompt
 * shows them. The workgroupMemory rule runs the library's own code (src/search/knob-params.ts
 * searchParamsFor, params.ts resolveSearchParams and fitWorkgroupMemory, the functions the GPU
 * search itself calls), so a setting it accepts is one the search accepts on an adapter with that
 * much workgroup memory.
 */
import { DEFAULT_WORKGROUP_STORAGE, fitWorkgroupMemory, resolveSearchParams } from '../search/params.ts';
import type { Constraint, Knob, ModuleName } from '../bundle/module-manifest.ts';
import { searchParamsFor, storageOf } from '../search/knob-params.ts';
import { codecFor } from '../data/codecs/registry.ts';

/** What the checks need of a module manifest (ModuleManifest fits). */
export interface ConstraintSource {
  module: ModuleName;
  knobs: readonly Knob[];
  constraints?: readonly Constraint[];
}

export interface ConstraintContext {
  /** The adapter's maxComputeWorkgroupStorageSize; overrides a rule's `limit` (default 16384, the WebGPU core default). */
  workgroupStorageLimit?: number;
  /** The degree of the graph actually searched; overrides a rule's `graphDegree` (a worst case). */
  graphDegree?: number;
}

/** The limit a workgroupMemory rule checks against in this context. */
export function workgroupLimitOf(c: Extract<Constraint, { rule: 'workgroupMemory' }>, ctx: ConstraintContext = {}): number {
  return ctx.workgroupStorageLimit ?? c.limit ?? DEFAULT_WORKGROUP_STORAGE;
}

/** Why `knobs` break the rule, or null when they satisfy it. Knobs the setting lacks take their defaults in `manifest`. */
export function violation(module: ModuleName, manifest: Pick<ConstraintSource, 'knobs'>, c: Constraint, knobs: Record<string, number>, ctx: ConstraintContext = {}): string | null {
  const value = (name: string) => knobs[name] ?? manifest.knobs.find((k) => k.name === name)?.default ?? NaN;
  switch (c.rule) {
    case 'divides': {
      const a = value(c.a);
      const b = value(c.b);
      return a > 0 && Number.isInteger(b / a) ? null : `${c.a} ${a} must divide ${c.b} ${b}`;
    }
    case 'atMost': {
      const a = value(c.a);
      const b = value(c.b);
      return a <= b ? null : `${c.a} ${a} must be at most ${c.b} ${b}`;
    }
    case 'workgroupMemory': {
      const all = Object.fromEntries(manifest.knobs.map((k) => [k.name, value(k.name)]));
      const degree = ctx.graphDegree ?? c.graphDegree;
      const limit = workgroupLimitOf(c, ctx);
      try {
        const p = resolveSearchParams(searchParamsFor(module, all, c.effort, c.k), c.k, degree, codecFor(storageOf(module, all)).needsRefine, Number.MAX_SAFE_INTEGER, c.entryDegree);
        fitWorkgroupMemory(p, degree, c.entryDegree, limit);
        return null;
      } catch (e) {
        return `at effort ${c.effort} (graph degree ${degree}, ${limit} bytes of workgroup memory): ${(e as Error).message}`;
      }
    }
  }
}

/** Every rule `knobs` break, as messages ([] when the setting is valid). */
export function violations(manifest: ConstraintSource, knobs: Record<string, number>, ctx: ConstraintContext = {}): string[] {
  return (manifest.constraints ?? []).map((c) => violation(manifest.module, manifest, c, knobs, ctx)).filter((v): v is string => v !== null);
}

export function satisfies(manifest: ConstraintSource, knobs: Record<string, number>, ctx: ConstraintContext = {}): boolean {
  return violations(manifest, knobs, ctx).length === 0;
}

/** One line per rule, for people and the llm prompt. */
export function describeConstraint(c: Constraint, ctx: ConstraintContext = {}): string {
  const doc = c.doc ? `: ${c.doc}` : '';
  switch (c.rule) {
    case 'divides':
      return `${c.a} divides ${c.b} (${c.b} % ${c.a} == 0, so ${c.a} <= ${c.b})${doc}`;
    case 'atMost':
      return `${c.a} <= ${c.b}${doc}`;
    case 'workgroupMemory':
      return `workgroup memory: at effort ${c.effort} (k ${c.k}, graph degree ${ctx.graphDegree ?? c.graphDegree}, entry-layer degree ${c.entryDegree}) one beam-search workgroup must fit in ${workgroupLimitOf(c, ctx)} bytes, with bytes = (workgroupSize / teamSize) x (searchWidth x max(degree, entryDegree) x 8 + 2^hashBits x 4 + searchWidth x 4 + 8) + 4 and hashBits shrunk to no less than ceil(log2(2 x searchWidth x degree))${doc}`;
  }
}

export function describeConstraints(constraints: readonly Constraint[] | undefined, ctx: ConstraintContext = {}): string {
  return !constraints || constraints.length === 0 ? '(none)' : constraints.map((c) => `- ${describeConstraint(c, ctx)}`).join('\n');
}
