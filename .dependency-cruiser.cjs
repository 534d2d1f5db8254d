/**
 * The layer rule of src/ (docs/ARCHITECTURE.md, "Layers"), checked by `npm run check:deps` and by
 * test/package/dependency-rules.test.ts, so an import up the layers or a cycle fails `npm test`.
 *
 * Layers, lowest first; a folder may import its own layer and the ones below it, never above:
 *
 *   gpu -> data -> graph -> bundle -> search -> browser -> bench -> evolve -> farm -> cli
 *
 * src/errors.ts and src/version.ts lie below every layer; src/index.ts (the public entry) above
 * the library's layers, beside evolve: nothing under src/ imports it. `browser` sits just above
 * `search` (the page runs the same search host code); the bench serves the browser page, so
 * bench -> browser points down.
 */
const LAYERS = ['gpu', 'data', 'graph', 'bundle', 'search', 'browser', 'bench', 'evolve', 'farm', 'cli'];

const folder = (name) => `^src/${name}/`;

/** One rule per layer: it may not import any layer above it. */
const layerRules = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `${layer}-imports-upward`,
  comment: `src/${layer}/ may import only ${LAYERS.slice(0, i + 1).join(', ')} (and src/errors.ts, src/version.ts); not ${LAYERS.slice(i + 1).join(', ')}.`,
  severity: 'error',
  from: { path: folder(layer) },
  to: { path: `^src/(${LAYERS.slice(i + 1).join('|')})/` },
}));

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'shared-roots-import-layers',
      comment: 'src/errors.ts and src/version.ts lie below every layer: they import no folder of src/.',
      severity: 'error',
      from: { path: '^src/(errors|version)\\.ts$' },
      to: { path: `^src/(${LAYERS.join('|')}|index\\.ts)` },
    },
    {
      name: 'no-import-of-public-entry',
      comment: 'src/index.ts is the public entry: code under src/ imports the module it needs, never the entry.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/index\\.ts$' },
      to: { path: '^src/index\\.ts$' },
    },
    {
      name: 'no-circular',
      comment: 'No file cycles (type-only imports count): extract the shared piece into its own file.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that resolves to nothing is a typo or a missing file (@webgpu/types has types only; h5wasm/node resolves through its exports map at run time).',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true, pathNot: '^(@webgpu/types|h5wasm/node)$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports are arrows too: a layer may not even name a higher layer's types.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.json'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
