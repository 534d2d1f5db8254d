/** Hand-written shaders from the project's `shaders/` folder (Node). Compiling them: pipeline.ts. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SHADER_DIR = fileURLToPath(new URL('../../shaders/', import.meta.url));

/** Reads a hand-written shader from the project's `shaders/` folder (or, an absolute path, from there: a storage codec kept outside the project). */
export function shaderSource(file: string): string {
  return readFileSync(file.startsWith('/') ? file : `${SHADER_DIR}${file}`, 'utf8');
}
