// Batched greedy beam search over a fixed-degree graph (CAGRA single-CTA style).
// A team of TEAM lanes serves one query; a workgroup holds WG / TEAM teams. Per query, in
// workgroup memory: the candidate buffer of one iteration (search width x degree), the
// open-addressing visited hash and the chosen parents; in private memory: the query (every
// lane) and the sorted internal top list (itopk, used by the team leader).
// Each iteration: the team leader merges the last candidates into the top list and picks the
// next SW unexpanded parents; then every lane expands some of their neighbours: visited check by
// atomic compare-exchange, distance for the new ones. Ends when no parent is left or after
// max_iter iterations. Storage of the base vectors comes from a base_*.wgsl file, which
// supplies l2_partial / dot_partial of one row against the private query qv.

// The query lives in a private array (registers or stack), far cheaper to re-read than workgroup
// or storage memory; array lengths must be compile-time, so the host rewrites this line.
const D4: u32 = 32u;    // padded dimension in vec4s
// The sorted top list is private to the team leader for the same reason: the leader's merge
// and parent scan touch it element by element. Also rewritten by the host.
const ITOPK: u32 = 64u;

override WG: u32 = 64;
override TEAM: u32 = 32;
override DEGREE: u32 = 32;
override SW: u32 = 1;
override HASH_BITS: u32 = 11;
override METRIC: u32 = 0; // 0 = l2, 1 = inner product, 2 = angular (rows pre-normalised)
override NSEEDS: u32 = 16; // entry points first, then pseudo-random nodes

override QPW: u32 = WG / TEAM;
override CAND: u32 = SW * DEGREE;
override HASH_SIZE: u32 = 1u << HASH_BITS;
override CAND_SLOTS: u32 = QPW * CAND;
override HASH_SLOTS: u32 = QPW * HASH_SIZE;
override PARENT_SLOTS: u32 = QPW * SW;

const NONE: u32 = 0xffffffffu;
const EXPANDED: u32 = 0x80000000u;
const FAR: f32 = 3.0e38;

struct Params {
  nq: u32,        // queries in this dispatch
  n: u32,         // base rows
  num_entry: u32, // index entry points available
  k_out: u32,     // results written per query
  max_iter: u32,
  seed: u32,
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> queries: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> graph: array<u32>;
@group(0) @binding(4) var<storage, read> entries: array<u32>;
@group(0) @binding(5) var<storage, read_write> out_ids: array<u32>;
@group(0) @binding(6) var<storage, read_write> out_dist: array<f32>;

var<private> top_d: array<f32, ITOPK>;
var<private> top_i: array<u32, ITOPK>; // high bit: expanded
var<workgroup> cand_d: array<f32, CAND_SLOTS>;
var<workgroup> cand_i: array<u32, CAND_SLOTS>;
var<workgroup> visited: array<atomic<u32>, HASH_SLOTS>; // id + 1; 0 = empty
var<workgroup> hash_fill: array<atomic<u32>, QPW>;
var<private> qv: array<vec4<f32>, D4>;
var<workgroup> parents: array<u32, PARENT_SLOTS>;
var<workgroup> team_active: array<u32, QPW>;
var<workgroup> any_active: u32;

fn distance(row: u32) -> f32 {
  // The storage file sums per-lane partials against the private query qv.
  if (METRIC == 0u) {
    let acc = l2_partial(row);
    return acc.x + acc.y + acc.z + acc.w;
  }
  let acc = dot_partial(row);
  let dot4 = acc.x + acc.y + acc.z + acc.w;
  return select(1.0 - dot4, -dot4, METRIC == 1u);
}

fn hash_slot(id: u32) -> u32 {
  return (id * 0x9e3779b1u) >> (32u - HASH_BITS);
}

// True when `id` was not yet visited by team s (and marks it visited).
fn visit(s: u32, id: u32) -> bool {
  let hb = s * HASH_SIZE;
  var slot = hash_slot(id);
  for (var probe = 0u; probe < HASH_SIZE; probe++) {
    let r = atomicCompareExchangeWeak(&visited[hb + slot], 0u, id + 1u);
    if (r.exchanged) {
      atomicAdd(&hash_fill[s], 1u);
      return true;
    }
    if (r.old_value == id + 1u) { return false; }
    if (r.old_value != 0u) { slot = (slot + 1u) & (HASH_SIZE - 1u); }
    // old_value == 0 without exchange: spurious failure, retry the same slot.
  }
  return true; // table full: treat as new (costs a duplicate distance, never a wrong answer)
}

// Leader only: merge this team's candidates into its sorted top list.
fn merge_candidates(s: u32) {
  let cb = s * CAND;
  var worst = top_d[ITOPK - 1u];
  for (var c = 0u; c < CAND; c++) {
    let d = cand_d[cb + c];
    if (d < worst) {
      var p = ITOPK - 1u;
      while (p > 0u && top_d[p - 1u] > d) {
        top_d[p] = top_d[p - 1u];
        top_i[p] = top_i[p - 1u];
        p--;
      }
      top_d[p] = d;
      top_i[p] = cand_i[cb + c];
      worst = top_d[ITOPK - 1u];
    }
    cand_d[cb + c] = FAR;
  }
}

// Leader only: when the hash is over half full, forget it and re-mark the top list (CAGRA's
// "forgettable hash"): a few nodes may be revisited, none is lost.
fn maybe_forget(s: u32) {
  if (atomicLoad(&hash_fill[s]) * 2u <= HASH_SIZE) { return; }
  let hb = s * HASH_SIZE;
  for (var h = 0u; h < HASH_SIZE; h++) { atomicStore(&visited[hb + h], 0u); }
  atomicStore(&hash_fill[s], 0u);
  for (var j = 0u; j < ITOPK; j++) {
    if (top_i[j] != NONE) { _ = visit(s, top_i[j] & ~EXPANDED); }
  }
}

fn seed_node(q: u32, j: u32) -> u32 {
  if (j < params.num_entry) { return entries[j]; }
  // Per-query pseudo-random nodes, so not every query starts from the same places.
  var h = ((q + params.seed) * 0x9e3779b1u) ^ (j * 0x85ebca6bu);
  h ^= h >> 16u;
  h *= 0x7feb352du;
  h ^= h >> 15u;
  return h % params.n;
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let s = lid / TEAM;
  let lane = lid % TEAM;
  let leader = lane == 0u;
  let q = (wid.x + wid.y * nwg.x) * QPW + s;
  let live = q < params.nq;
  let qc = min(q, params.nq - 1u);

  for (var t = 0u; t < D4; t++) { qv[t] = queries[qc * D4 + t]; }
  for (var h = lane; h < HASH_SIZE; h += TEAM) { atomicStore(&visited[s * HASH_SIZE + h], 0u); }
  for (var j = 0u; j < ITOPK; j++) { top_d[j] = FAR; top_i[j] = NONE; }
  for (var c = lane; c < CAND; c += TEAM) { cand_d[s * CAND + c] = FAR; }
  if (leader) { atomicStore(&hash_fill[s], 0u); }
  workgroupBarrier();

  // Seeds (index entry points, then per-query pseudo-random nodes) go through the candidate
  // buffer CAND at a time, like the neighbours of an iteration.
  for (var first = 0u; first < NSEEDS; first += CAND) {
    for (var c = lane; c < CAND && first + c < NSEEDS; c += TEAM) {
      let node = seed_node(qc, first + c);
      if (live && visit(s, node)) {
        cand_d[s * CAND + c] = distance(node);
        cand_i[s * CAND + c] = node;
      }
    }
    workgroupBarrier();
    if (leader && first + CAND < NSEEDS) { merge_candidates(s); }
    workgroupBarrier();
  }

  for (var it = 0u; it < params.max_iter; it++) {
    if (leader) {
      merge_candidates(s);
      maybe_forget(s);
      var picked = 0u;
      for (var j = 0u; j < ITOPK && picked < SW; j++) {
        let v = top_i[j];
        if (v != NONE && (v & EXPANDED) == 0u) {
          parents[s * SW + picked] = v;
          top_i[j] = v | EXPANDED;
          picked++;
        }
      }
      for (var p = picked; p < SW; p++) { parents[s * SW + p] = NONE; }
      team_active[s] = select(0u, 1u, live && picked > 0u);
    }
    workgroupBarrier();
    if (lid == 0u) {
      var a = 0u;
      for (var t = 0u; t < QPW; t++) { a |= team_active[t]; }
      any_active = a;
    }
    if (workgroupUniformLoad(&any_active) == 0u) { break; }

    for (var c = lane; c < CAND; c += TEAM) {
      let parent = parents[s * SW + c / DEGREE];
      var d = FAR;
      var nb = NONE;
      if (parent != NONE) {
        nb = graph[parent * DEGREE + c % DEGREE];
        if (nb < params.n && visit(s, nb)) { d = distance(nb); }
      }
      cand_d[s * CAND + c] = d;
      cand_i[s * CAND + c] = nb;
    }
    workgroupBarrier();
  }
  // Candidates of the last iteration, when max_iter cut the loop short.
  if (leader) { merge_candidates(s); }
  workgroupBarrier();

  if (!live || !leader) { return; }
  for (var j = 0u; j < params.k_out; j++) {
    let v = top_i[j];
    out_ids[q * params.k_out + j] = select(v & ~EXPANDED, NONE, v == NONE);
    out_dist[q * params.k_out + j] = top_d[j];
  }
}
