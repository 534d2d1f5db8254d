/**
 * The prompt templates' renderer: `{{name}}` is replaced by vars[name]; a name the template uses
 * but vars lacks is an error naming the template and the variable (a prompt with a hole would
 * silently teach the model nothing). Values are inserted verbatim, never re-scanned.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../../errors.ts';

/** prompts/ at the repository (or installed package) root: src/evolve/llm and dist/evolve/llm both sit three levels down. */
export const PROMPTS_DIR = fileURLToPath(new URL('../../../prompts/', import.meta.url));

const VAR = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

export function render(template: string, vars: Record<string, string | number>, name = 'template'): string {
  const missing = [...template.matchAll(VAR)].map((m) => m[1]).filter((v) => !(v in vars));
  if (missing.length > 0) throw new UserError(`${name}: no value for {{${[...new Set(missing)].join('}}, {{')}}}`);
  return template.replace(VAR, (_, v: string) => String(vars[v]));
}

export function loadTemplate(file: string, dir = PROMPTS_DIR): string {
  const p = path.join(dir, file);
  try {
    return readFileSync(p, 'utf8');
  } catch (e) {
    throw new UserError(`${p}: cannot read prompt template (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

export function renderFile(file: string, vars: Record<string, string | number>, dir = PROMPTS_DIR): string {
  return render(loadTemplate(file, dir), vars, path.join(dir, file));
}
