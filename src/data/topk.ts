/**
 * Bounded sorted insert: `dist`/`ids` hold `size` entries (at most `k`) in ascending distance.
 * Inserts (d, id) after any equal distances, so entries scanned in id order keep the smaller id
 * first on ties, and drops the worst when full. The caller skips candidates that cannot enter
 * (`size === k && !(d < dist[k - 1])`). Returns the new size.
 */
export function insertSorted(dist: Float32Array | Float64Array, ids: Int32Array | Uint32Array, size: number, k: number, d: number, id: number): number {
  let p = size < k ? size++ : k - 1;
  while (p > 0 && dist[p - 1] > d) {
    dist[p] = dist[p - 1];
    ids[p] = ids[p - 1];
    p--;
  }
  dist[p] = d;
  ids[p] = id;
  return size;
}
