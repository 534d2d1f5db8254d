#!/usr/bin/env node
// Node >= 22.18 runs the TypeScript sources directly (type stripping); nothing to build.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(`crinn: needs Node >= 22.18 (this is ${process.version}); run it through npm (npm run crinn -- ...) or npx, which use the Node 22 installed by npm ci\n`);
  process.exit(2);
}
await import('../src/cli/main.ts');
