/**
 * The layer rule of src/ (docs/ARCHITECTURE.md, "Layers"; the rules: .dependency-cruiser.cjs):
 * gpu -> data -> graph -> bundle -> search -> browser -> bench -> evolve -> farm -> cli, each folder
 * importing only its own layer and those below, and no file cycles (type-only imports count).
 * An import up the layers fails here, with dependency-cruiser's list of the offending arrows.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const depcruise = path.join(root, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruiser.mjs');

describe('dependency rules', () => {
  it('src/ imports down the layers only and has no cycles (npm run check:deps)', () => {
    const r = spawnSync(process.execPath, [depcruise, 'src', '--config', '.dependency-cruiser.cjs'], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    const output = `${r.stdout}${r.stderr}${r.error ? `\n${r.error.message}` : ''}`;
    expect(r.status, output).toBe(0);
    expect(output).toMatch(/no dependency violations found/);
  });
});
