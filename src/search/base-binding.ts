/**
 * The base rows' binding and its one accessor, owned by the harness (never by a row loader, so a
 * variant cannot rebind it). Row loaders (shaders/base_*.wgsl, a codec's `rowLoader`) read the
 * GPU rows only through `base_at(i)`: the i-th 16-byte group of the packed rows, as raw bits
 * (a loader bitcasts or unpacks). One accessor is what lets the rows live in one binding or, where
 * one binding cannot hold them, in several (docs/ARCHITECTURE.md, "Storage codecs").
 */
export function baseBindingWgsl(): string {
  return [
    '@group(0) @binding(2) var<storage, read> base: array<vec4<u32>>;',
    'fn base_at(i: u32) -> vec4<u32> { return base[i]; }',
  ].join('\n');
}
