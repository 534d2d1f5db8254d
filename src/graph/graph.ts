/**
 * The fixed-degree proximity graph the GPU searches: row i of `neighbors` holds node i's
 * out-edges, `degree` slots per row, unused slots padded with NO_NEIGHBOR (0xFFFFFFFF) at the end.
 * A fixed row length lets the shader index edges as i * degree + j with no offsets table.
 */

export const NO_NEIGHBOR = 0xffffffff;

export interface Graph {
  n: number;
  degree: number;
  /** n * degree node ids, row-major. */
  neighbors: Uint32Array;
}

/** A graph with every slot empty. */
export function createGraph(n: number, degree: number): Graph {
  return { n, degree, neighbors: new Uint32Array(n * degree).fill(NO_NEIGHBOR) };
}

/** Node i's row (a view, padding included). */
export function neighborsOf(g: Graph, i: number): Uint32Array {
  return g.neighbors.subarray(i * g.degree, (i + 1) * g.degree);
}

/** Number of filled slots in node i's row (padding sits at the end). */
export function degreeOf(g: Graph, i: number): number {
  const row = i * g.degree;
  let d = 0;
  while (d < g.degree && g.neighbors[row + d] !== NO_NEIGHBOR) d++;
  return d;
}

export interface GraphCheck {
  minDegree: number;
  maxDegree: number;
  meanDegree: number;
  selfLoops: number;
  duplicates: number;
  outOfRange: number;
  /** A filled slot after a padding slot: padding must sit at the end of a row. */
  holes: number;
  /** Nodes no edge points to (unreachable except as entry points). */
  noInEdges: number;
}

/** Structural statistics; a well-formed build has zero selfLoops, duplicates, outOfRange and holes. */
export function checkGraph(g: Graph): GraphCheck {
  const { n, degree, neighbors } = g;
  let minDegree = Infinity, maxDegree = 0, total = 0, selfLoops = 0, duplicates = 0, outOfRange = 0, holes = 0;
  const inDeg = new Uint32Array(n);
  const seen = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    let d = 0;
    let padded = false;
    for (let j = 0; j < degree; j++) {
      const v = neighbors[i * degree + j];
      if (v === NO_NEIGHBOR) {
        padded = true;
        continue;
      }
      if (padded) holes++;
      d++;
      if (v >= n) {
        outOfRange++;
        continue;
      }
      if (v === i) selfLoops++;
      if (seen[v] === i) duplicates++;
      seen[v] = i;
      inDeg[v]++;
    }
    minDegree = Math.min(minDegree, d);
    maxDegree = Math.max(maxDegree, d);
    total += d;
  }
  let noInEdges = 0;
  for (let i = 0; i < n; i++) if (inDeg[i] === 0) noInEdges++;
  return { minDegree: n ? minDegree : 0, maxDegree, meanDegree: n ? total / n : 0, selfLoops, duplicates, outOfRange, holes, noInEdges };
}
