#!/usr/bin/env node
// Installed package: runs the built CLI (dist/). Git checkout: runs the TypeScript sources directly
// (Node >= 22.18 strips types, but never under node_modules), so a stale dist/ is never run there.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = new URL('../src/cli/main.ts', import.meta.url);
const built = new URL('../dist/cli/main.js', import.meta.url);
const checkout = !fileURLToPath(import.meta.url).split(/[\\/]/).includes('node_modules') && existsSync(source);

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  const hint = checkout
    ? 'run it through npm (npm run crinn -- ...) or npx, which use the Node 22 installed by npm ci'
    : 'install Node 22.18 or later (Dawn and the CLI need it)';
  process.stderr.write(`crinn: needs Node >= 22.18 (this is ${process.version}); ${hint}\n`);
  process.exit(2);
}
if (checkout) await import(source.href);
else if (existsSync(built)) await import(built.href);
else {
  process.stderr.write(`crinn: ${fileURLToPath(built)} is missing; build it with npm run build\n`);
  process.exit(2);
}
