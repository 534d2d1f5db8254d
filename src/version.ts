import { readFileSync } from 'node:fs';

/** The package version, read once from package.json so reports name the build that made them. */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
