// Batched greedy beam search over a fixed-degree graph (CAGRA single-CTA style).
// A team of TEAM lanes serves one query; a workgroup holds WG / TEAM teams. Per query, in
// workgroup memory: the candidate buffer of one iteration (search width x degree), the
// open-addressing visited hash and the chosen parents; in private memory: the query (every
// lane) and the sorted internal top list (itopk, used by the team leader).
// Two phases, one loop: phase 0 searches the entry layer (a small graph over a sample of the base,
// node ids local to it, rows read through `entries`) with a list of UBEAM, starting from its first
// NSEEDS nodes; its list, mapped to base ids, seeds phase 1 on the main graph with a list of ITOPK.
// Each iteration: the team leader merges the last candidates into the top list and picks the
// next SW unexpanded parents; then every lane expands some of their neighbours: visited check by
// atomic compare-exchange, distance for the new ones. A phase ends when no parent is left or after
// its iteration cap (entry_iter, max_iter). Storage of the base vectors comes from a base_*.wgsl file, which
// supplies l2_partial / dot_partial of one row against the private query qv.
// Filtered (FILTER != 0): a filter file supplies `passes(id)` for the current query; the leader keeps
// a second sorted list of the best passing rows (res_*, k_out long) and the output comes from it.
// FILTER 1 traverses every row and returns only passing ones; FILTER 2 computes distances only for
// passing rows of the main graph (non-passing ones are skipped, not traversed).

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
override NSEEDS: u32 = 16; // entry-layer start nodes: its first NSEEDS
override UDEG: u32 = 32;   // entry-layer row length
override UBEAM: u32 = 16;  // entry-layer list length (<= ITOPK)
// Debug: count distance evaluations per query into out_evals (0 = off; the counter costs an atomic per distance).
override COUNT_EVALS: bool = false;
override FILTER: u32 = 0; // 0 = none, 1 = traverse all, return passing, 2 = traverse passing only

override QPW: u32 = WG / TEAM;
override CAND: u32 = SW * max(DEGREE, UDEG);
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
  num_entry: u32, // entry-layer nodes
  k_out: u32,     // results written per query
  max_iter: u32,  // main-graph iteration cap
  entry_iter: u32, // entry-layer iteration cap
  q_base: u32,    // this dispatch's first query within the call (filter table index)
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> queries: array<vec4<f32>>;
// The graph (binding 3, DEGREE ids per row) is the harness's: read it only through graph_at(i)
// (src/search/base-binding.ts), which spans several bindings where one cannot hold it.
// The entry layer: num_entry base ids (local id -> base row), then num_entry * UDEG edges (local ids).
@group(0) @binding(4) var<storage, read> entries: array<u32>;
@group(0) @binding(5) var<storage, read_write> out_ids: array<u32>;
@group(0) @binding(6) var<storage, read_write> out_dist: array<f32>;
@group(0) @binding(7) var<storage, read_write> out_evals: array<atomic<u32>>; // per query, when COUNT_EVALS

var<private> top_d: array<f32, ITOPK>;
var<private> top_i: array<u32, ITOPK>; // high bit: expanded
var<private> res_d: array<f32, ITOPK>; // filtered: best passing rows, first k_out used
var<private> res_i: array<u32, ITOPK>;
var<workgroup> cand_d: array<f32, CAND_SLOTS>;
var<workgroup> cand_i: array<u32, CAND_SLOTS>;
var<workgroup> visited: array<atomic<u32>, HASH_SLOTS>; // id + 1; 0 = empty
var<workgroup> hash_fill: array<atomic<u32>, QPW>;
var<private> qv: array<vec4<f32>, D4>;
var<private> cur_q: u32;
var<workgroup> parents: array<u32, PARENT_SLOTS>;
var<workgroup> team_active: array<u32, QPW>;
var<workgroup> any_active: u32;

fn distance(row: u32) -> f32 {
  if (COUNT_EVALS) { atomicAdd(&out_evals[min(cur_q, arrayLength(&out_evals) - 1u)], 1u); }
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

// Leader only: merge this team's candidates into the first `len` entries of its sorted top list.
fn merge_candidates(s: u32, len: u32) {
  let cb = s * CAND;
  var worst = top_d[len - 1u];
  for (var c = 0u; c < CAND; c++) {
    let d = cand_d[cb + c];
    if (d < worst) {
      var p = len - 1u;
      while (p > 0u && top_d[p - 1u] > d) {
        top_d[p] = top_d[p - 1u];
        top_i[p] = top_i[p - 1u];
        p--;
      }
      top_d[p] = d;
      top_i[p] = cand_i[cb + c];
      worst = top_d[len - 1u];
    }
    cand_d[cb + c] = FAR;
  }
}

// Leader only, filtered main phase: passing candidates into the result list. A row the forgettable
// hash let through twice has the same distance, so a repeat sits among the entries of equal distance.
fn merge_results(s: u32) {
  let cb = s * CAND;
  let len = params.k_out;
  for (var c = 0u; c < CAND; c++) {
    let d = cand_d[cb + c];
    let id = cand_i[cb + c];
    if (d < res_d[len - 1u] && passes(id)) { insert_result(d, id, len); }
  }
}

fn insert_result(d: f32, id: u32, len: u32) {
  for (var j = 0u; j < len && res_d[j] <= d; j++) {
    if (res_i[j] == id) { return; }
  }
  var p = len - 1u;
  while (p > 0u && res_d[p - 1u] > d) {
    res_d[p] = res_d[p - 1u];
    res_i[p] = res_i[p - 1u];
    p--;
  }
  res_d[p] = d;
  res_i[p] = id;
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
  if (FILTER != 0u) {
    for (var j = 0u; j < params.k_out; j++) {
      if (res_i[j] != NONE) { _ = visit(s, res_i[j]); }
    }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let s = lid / TEAM;
  let lane = lid % TEAM;
  let leader = lane == 0u;
  let q = (wid.x + wid.y * nwg.x) * QPW + s;
  let live = q < params.nq;
  let qc = min(q, params.nq - 1u);
  cur_q = qc;

  for (var t = 0u; t < D4; t++) { qv[t] = queries[qc * D4 + t]; }
  for (var h = lane; h < HASH_SIZE; h += TEAM) { atomicStore(&visited[s * HASH_SIZE + h], 0u); }
  for (var j = 0u; j < ITOPK; j++) { top_d[j] = FAR; top_i[j] = NONE; }
  if (FILTER != 0u) {
    for (var j = 0u; j < ITOPK; j++) { res_d[j] = FAR; res_i[j] = NONE; }
  }
  for (var c = lane; c < CAND; c += TEAM) { cand_d[s * CAND + c] = FAR; }
  if (leader) { atomicStore(&hash_fill[s], 0u); }
  workgroupBarrier();

  // Entry-layer seeds: its first NSEEDS nodes (local ids), through the candidate buffer CAND at a time.
  for (var first = 0u; first < NSEEDS; first += CAND) {
    for (var c = lane; c < CAND && first + c < NSEEDS; c += TEAM) {
      let node = first + c;
      if (live && visit(s, node)) {
        cand_d[s * CAND + c] = distance(entries[node]);
        cand_i[s * CAND + c] = node;
      }
    }
    workgroupBarrier();
    if (leader && first + CAND < NSEEDS) { merge_candidates(s, UBEAM); }
    workgroupBarrier();
  }

  for (var phase = 0u; phase < 2u; phase++) {
    let entry = phase == 0u;
    let len = select(ITOPK, UBEAM, entry);
    let deg = select(DEGREE, UDEG, entry);
    let limit = select(params.n, params.num_entry, entry);
    let cap = select(params.max_iter, params.entry_iter, entry);
    for (var it = 0u; it < cap; it++) {
      if (leader) {
        if (FILTER != 0u && !entry) { merge_results(s); }
        merge_candidates(s, len);
        maybe_forget(s);
        var picked = 0u;
        for (var j = 0u; j < len && picked < SW; j++) {
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

      for (var c = lane; c < SW * deg; c += TEAM) {
        let parent = parents[s * SW + c / deg];
        var d = FAR;
        var nb = NONE;
        if (parent != NONE) {
          // One distance call site: each one inlines the whole row loop, and on lavapipe a third
          // site made the LLVM compile of this kernel run for minutes.
          var row = NONE;
          if (entry) {
            nb = entries[params.num_entry + parent * UDEG + c % UDEG];
            if (nb < limit && visit(s, nb)) { row = entries[nb]; }
          } else {
            nb = graph_at(parent * DEGREE + c % DEGREE);
            if (nb < limit && visit(s, nb) && (FILTER != 2u || passes(nb))) { row = nb; }
          }
          if (row != NONE) { d = distance(row); }
        }
        cand_d[s * CAND + c] = d;
        cand_i[s * CAND + c] = nb;
      }
      workgroupBarrier();
    }
    // Candidates of the last iteration, when the cap cut the loop short.
    if (leader) {
      if (FILTER != 0u && !entry) { merge_results(s); }
      merge_candidates(s, len);
    }
    workgroupBarrier();
    if (entry) {
      // Hand over: base ids, nothing expanded, a fresh visited set holding just these.
      for (var h = lane; h < HASH_SIZE; h += TEAM) { atomicStore(&visited[s * HASH_SIZE + h], 0u); }
      workgroupBarrier();
      if (leader) {
        atomicStore(&hash_fill[s], 0u);
        for (var j = 0u; j < UBEAM; j++) {
          let v = top_i[j];
          if (v != NONE) {
            top_i[j] = entries[v & ~EXPANDED];
            _ = visit(s, top_i[j]);
            if (FILTER != 0u && passes(top_i[j])) { insert_result(top_d[j], top_i[j], params.k_out); }
          }
        }
      }
      workgroupBarrier();
    }
  }

  if (!live || !leader) { return; }
  for (var j = 0u; j < params.k_out; j++) {
    var v = top_i[j];
    var d = top_d[j];
    if (FILTER != 0u) {
      v = res_i[j];
      d = res_d[j];
    }
    out_ids[q * params.k_out + j] = select(v & ~EXPANDED, NONE, v == NONE);
    out_dist[q * params.k_out + j] = d;
  }
}
