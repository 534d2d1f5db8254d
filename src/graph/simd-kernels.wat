;; Distance and list kernels for the CPU graph build (WebAssembly text, SIMD + threads).
;;
;; The source of src/graph/simd-kernels.wasm.ts: edit this file, then run `npm run build:wasm`
;; (scripts/build-wasm.ts assembles it with wabt and writes the bytes there). The test
;; test/graph/simd-kernels.test.ts re-assembles this file and fails if the committed bytes differ.
;;
;; Memory: one imported shared memory, env.mem (the arena, src/graph/arena.ts), which every
;; worker thread instantiates this module over. Its layout, all byte addresses:
;;   [0, n * stride)      the vectors, f32, each padded with zeros to dim4 = a multiple of 4
;;                        floats (stride = dim4 * 4 bytes; the padding changes no distance)
;;   iota, lists          i32 ids 0..n-1; the kNN lists, K i32 codes per node: id << 1 | flag
;;   per-thread scratch   ids (i32), out (f32 or i32), query copies, slot (u16), known (u8)
;; The kernels take byte addresses into it, so the callers decide where each array lives.
;;
;; Exports, in this order (JS calls them with the parameters named below):
;;   l2, negdot           (q, base, stride, ids, count, out, dimBytes): the distance kernels
;;   scanKnown            (lists, rowBytes, cand, nScan, slot, known, kw): NN-descent's membership matrix
;;   detours              (lists, K, x, rank1, detours, -, -): CAGRA's detour count for one node
;;   joinRowL2, joinRowDot (cand, m, i, known, worst, subIds, subIdx, out, offers, stride) -> count:
;;                        one row of NN-descent's local join
;;
;; The local order in each function is part of the encoding: the test compares bytes, and the
;; bench (scripts/bench-simd.ts) compares the function bodies with the hand-assembled module this
;; file replaced. Reordering locals is fine; update the committed bytes with `npm run build:wasm`.
(module
  (type $dist (func (param i32 i32 i32 i32 i32 i32 i32)))
  (type $joinRow (func (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))

  ;; Minimum 0 pages, maximum 65536 pages (4 GiB, the wasm32 limit): any shared memory up to
  ;; that size can be imported, so one compiled module serves every arena.
  (import "env" "mem" (memory 0 65536 shared))

  ;; ------------------------------------------------------------------------------------------
  ;; l2: out[k] = |q - x_k|^2 (squared L2) for k < count, where x_k = base + ids[k] * stride.
  ;;   q        byte address of the query vector (dimBytes bytes, 16-byte chunks)
  ;;   base     byte address of vector 0
  ;;   stride   bytes from one vector to the next
  ;;   ids      byte address of count i32 vector ids
  ;;   count    number of vectors to score
  ;;   out      byte address of count f32 results (written with 16-byte stores in the 4-wide
  ;;            pass: out must have room for a multiple of 4 floats)
  ;;   dimBytes bytes per vector to read, a positive multiple of 16 (dim4 * 4)
  ;; Four vectors are scored per pass so each q chunk is loaded once per four; the rest one at
  ;; a time. Both paths sum the four lanes of an accumulator in the same order,
  ;; (l0 + l2) + (l1 + l3), so dist(a, b) is bit-identical wherever it is computed (the kNN
  ;; lists detect duplicates by distance).
  ;; ------------------------------------------------------------------------------------------
  (func $l2 (export "l2") (type $dist)
    (param $q i32) (param $base i32) (param $stride i32) (param $ids i32)
    (param $count i32) (param $out i32) (param $dimBytes i32)
    (local $k i32)      ;; index of the (first) vector scored in this pass
    (local $i i32)      ;; byte offset into the vectors, 0, 16, 32, ...
    (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32)  ;; addresses of x_k .. x_k+3
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)  ;; f32x4 partial sums
    (local $qv v128)    ;; the current 16-byte chunk of q
    (local $s01 v128)   ;; in the inner loop: q - x (scratch); after it: sums of a0 and a1
    (local $s23 v128)   ;; sums of a2 and a3

    (local.set $k (i32.const 0))
    ;; Four vectors per pass while k + 4 <= count.
    (block $done4
      (loop $pass4
        (br_if $done4 (i32.gt_u (i32.add (local.get $k) (i32.const 4)) (local.get $count)))
        ;; p_j = base + ids[k + j] * stride
        (local.set $p0 (i32.add (local.get $base)
          (i32.mul (i32.load offset=0 (i32.add (local.get $ids) (i32.shl (local.get $k) (i32.const 2)))) (local.get $stride))))
        (local.set $p1 (i32.add (local.get $base)
          (i32.mul (i32.load offset=4 (i32.add (local.get $ids) (i32.shl (local.get $k) (i32.const 2)))) (local.get $stride))))
        (local.set $p2 (i32.add (local.get $base)
          (i32.mul (i32.load offset=8 (i32.add (local.get $ids) (i32.shl (local.get $k) (i32.const 2)))) (local.get $stride))))
        (local.set $p3 (i32.add (local.get $base)
          (i32.mul (i32.load offset=12 (i32.add (local.get $ids) (i32.shl (local.get $k) (i32.const 2)))) (local.get $stride))))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $a2 (v128.const i32x4 0 0 0 0))
        (local.set $a3 (v128.const i32x4 0 0 0 0))
        ;; a_j += (q - x_j)^2, 4 floats at a time (a do-while: dimBytes >= 16).
        (local.set $i (i32.const 0))
        (loop $dims4
          (local.set $qv (v128.load (i32.add (local.get $q) (local.get $i))))
          local.get $a0
          (local.set $s01 (f32x4.sub (local.get $qv) (v128.load (i32.add (local.get $p0) (local.get $i)))))
          (f32x4.mul (local.get $s01) (local.get $s01))
          f32x4.add
          local.set $a0
          local.get $a1
          (local.set $s01 (f32x4.sub (local.get $qv) (v128.load (i32.add (local.get $p1) (local.get $i)))))
          (f32x4.mul (local.get $s01) (local.get $s01))
          f32x4.add
          local.set $a1
          local.get $a2
          (local.set $s01 (f32x4.sub (local.get $qv) (v128.load (i32.add (local.get $p2) (local.get $i)))))
          (f32x4.mul (local.get $s01) (local.get $s01))
          f32x4.add
          local.set $a2
          local.get $a3
          (local.set $s01 (f32x4.sub (local.get $qv) (v128.load (i32.add (local.get $p3) (local.get $i)))))
          (f32x4.mul (local.get $s01) (local.get $s01))
          f32x4.add
          local.set $a3
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br_if $dims4 (i32.lt_u (local.get $i) (local.get $dimBytes))))
        ;; Horizontal sums. Lanes of a_j are aj0..aj3. The shuffles pick f32 lanes (4 bytes each;
        ;; bytes 0-15 are the first operand, 16-31 the second):
        ;;   s01 = [a00, a01, a10, a11] + [a02, a03, a12, a13] = [a00+a02, a01+a03, a10+a12, a11+a13]
        (local.set $s01 (f32x4.add
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a0) (local.get $a1))
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $a0) (local.get $a1))))
        ;;   s23 = the same for a2, a3
        (local.set $s23 (f32x4.add
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a2) (local.get $a3))
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $a2) (local.get $a3))))
        ;; out[k .. k+4) = even lanes + odd lanes of (s01, s23): [d0, d1, d2, d3], each summed as
        ;; (l0 + l2) + (l1 + l3).
        (v128.store
          (i32.add (local.get $out) (i32.shl (local.get $k) (i32.const 2)))
          (f32x4.add
            (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $s01) (local.get $s23))
            (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $s01) (local.get $s23))))
        (local.set $k (i32.add (local.get $k) (i32.const 4)))
        (br $pass4)))
    ;; The remaining 0-3 vectors one at a time.
    (block $done1
      (loop $pass1
        (br_if $done1 (i32.ge_u (local.get $k) (local.get $count)))
        (local.set $p0 (i32.add (local.get $base)
          (i32.mul (i32.load (i32.add (local.get $ids) (i32.shl (local.get $k) (i32.const 2)))) (local.get $stride))))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $i (i32.const 0))
        (loop $dims1
          (local.set $qv (v128.load (i32.add (local.get $q) (local.get $i))))
          local.get $a0
          (local.set $s01 (f32x4.sub (local.get $qv) (v128.load (i32.add (local.get $p0) (local.get $i)))))
          (f32x4.mul (local.get $s01) (local.get $s01))
          f32x4.add
          local.set $a0
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br_if $dims1 (i32.lt_u (local.get $i) (local.get $dimBytes))))
        ;; out[k] = (l0 + l2) + (l1 + l3), the 4-wide pass's order.
        (f32.store
          (i32.add (local.get $out) (i32.shl (local.get $k) (i32.const 2)))
          (f32.add
            (f32.add (f32x4.extract_lane 0 (local.get $a0)) (f32x4.extract_lane 2 (local.get $a0)))
            (f32.add (f32x4.extract_lane 1 (local.get $a0)) (f32x4.extract_lane 3 (local.get $a0)))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $pass1))))

  ;; ------------------------------------------------------------------------------------------
  ;; negdot: out[k] = -<q, x_k>, same parameters and structure as $l2 (the accumulated term is
  ;; q * x instead of (q - x)^2, and the sums are negated at the end). For ip and angular this
  ;; ranks exactly like the metric's own distance (-dot, 1 - dot).
  ;; ------------------------------------------------------------------------------------------
  (func $negdot (export "negdot") (type $dist)
    (param $q i32) (param $base i32) (param $stride i32) (param $ids i32)
    (param $count i32) (param $out i32) (param $dimBytes i32)
    (local $k i32) (local $i i32)
    (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $qv v128) (local $s01 v128) (local $s23 v128)

    (local.set $k (i32.const 0))
    (block $done4
      (loop $pass4
        (br_if $done4 (i32.gt_u (i32.add (local.get $k) (i32.const 4)) (local.get $count)))
        (local.set $p0 (i32.add (local.get $base)
          (i32.mul (i32.load offset=0 (i32.add (local.get $ids) (i32.shl (local.get $k) (i32.const 2)))) (local.get $stride))))
        (local.set $p1 (i32.add (local.get $base)
          (i32.mul (i32.load offset=4 (i32.add (local.get $ids) (i32.shl (local.get $k) (i32.const 2)))) (local.get $stride))))
        (local.set $p2 (i32.add (local.get $base)
          (i32.mul (i32.load offset=8 (i32.add (local.get $ids) (i32.shl (local.get $k) (i32.const 2)))) (local.get $stride))))
        (local.set $p3 (i32.add (local.get $base)
          (i32.mul (i32.load offset=12 (i32.add (local.get $ids) (i32.shl (local.get $k) (i32.const 2)))) (local.get $stride))))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $a2 (v128.const i32x4 0 0 0 0))
        (local.set $a3 (v128.const i32x4 0 0 0 0))
        ;; a_j += q * x_j
        (local.set $i (i32.const 0))
        (loop $dims4
          (local.set $qv (v128.load (i32.add (local.get $q) (local.get $i))))
          (local.set $a0 (f32x4.add (local.get $a0)
            (f32x4.mul (local.get $qv) (v128.load (i32.add (local.get $p0) (local.get $i))))))
          (local.set $a1 (f32x4.add (local.get $a1)
            (f32x4.mul (local.get $qv) (v128.load (i32.add (local.get $p1) (local.get $i))))))
          (local.set $a2 (f32x4.add (local.get $a2)
            (f32x4.mul (local.get $qv) (v128.load (i32.add (local.get $p2) (local.get $i))))))
          (local.set $a3 (f32x4.add (local.get $a3)
            (f32x4.mul (local.get $qv) (v128.load (i32.add (local.get $p3) (local.get $i))))))
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br_if $dims4 (i32.lt_u (local.get $i) (local.get $dimBytes))))
        ;; Horizontal sums as in $l2, then negated.
        (local.set $s01 (f32x4.add
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a0) (local.get $a1))
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $a0) (local.get $a1))))
        (local.set $s23 (f32x4.add
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a2) (local.get $a3))
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $a2) (local.get $a3))))
        (v128.store
          (i32.add (local.get $out) (i32.shl (local.get $k) (i32.const 2)))
          (f32x4.neg (f32x4.add
            (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $s01) (local.get $s23))
            (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $s01) (local.get $s23)))))
        (local.set $k (i32.add (local.get $k) (i32.const 4)))
        (br $pass4)))
    (block $done1
      (loop $pass1
        (br_if $done1 (i32.ge_u (local.get $k) (local.get $count)))
        (local.set $p0 (i32.add (local.get $base)
          (i32.mul (i32.load (i32.add (local.get $ids) (i32.shl (local.get $k) (i32.const 2)))) (local.get $stride))))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $i (i32.const 0))
        (loop $dims1
          (local.set $qv (v128.load (i32.add (local.get $q) (local.get $i))))
          (local.set $a0 (f32x4.add (local.get $a0)
            (f32x4.mul (local.get $qv) (v128.load (i32.add (local.get $p0) (local.get $i))))))
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br_if $dims1 (i32.lt_u (local.get $i) (local.get $dimBytes))))
        (f32.store
          (i32.add (local.get $out) (i32.shl (local.get $k) (i32.const 2)))
          (f32.neg (f32.add
            (f32.add (f32x4.extract_lane 0 (local.get $a0)) (f32x4.extract_lane 2 (local.get $a0)))
            (f32.add (f32x4.extract_lane 1 (local.get $a0)) (f32x4.extract_lane 3 (local.get $a0))))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $pass1))))

  ;; ------------------------------------------------------------------------------------------
  ;; scanKnown: NN-descent's membership matrix, the hottest loop of the kNN build. Branch-free.
  ;;   lists    byte address of the kNN lists (i32 codes id << 1 | flag, rowBytes per node)
  ;;   rowBytes bytes per list (K * 4, K >= 1)
  ;;   cand     byte address of nScan i32 candidate ids
  ;;   nScan    number of candidates whose lists are scanned
  ;;   slot     byte address of a u16 array indexed by id: 1 + the id's candidate index, or 0
  ;;   known    byte address of the u8 matrix, nScan rows of kw bytes
  ;;   kw       row width of known (number of candidates + 1)
  ;; Zeroes known[0 .. nScan * kw), then for p < nScan and each code in the list of cand[p]:
  ;; known[p * kw + slot[code >> 1]] = 1. Column 0 collects the ids that are no candidate;
  ;; column 1 + j says "candidate j is in cand[p]'s list".
  ;; ------------------------------------------------------------------------------------------
  (func $scanKnown (export "scanKnown") (type $dist)
    (param $lists i32) (param $rowBytes i32) (param $cand i32) (param $nScan i32)
    (param $slot i32) (param $known i32) (param $kw i32)
    (local $p i32)       ;; candidate index
    (local $row i32)     ;; address of the current code in cand[p]'s list
    (local $rowEnd i32)  ;; end of that list
    (local $kr i32)      ;; address of row p of known

    (memory.fill (local.get $known) (i32.const 0) (i32.mul (local.get $nScan) (local.get $kw)))
    (local.set $p (i32.const 0))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $p) (local.get $nScan)))
        ;; row = lists + cand[p] * rowBytes; rowEnd = row + rowBytes; kr = known + p * kw
        (local.set $row (i32.add (local.get $lists)
          (i32.mul (i32.load (i32.add (local.get $cand) (i32.shl (local.get $p) (i32.const 2)))) (local.get $rowBytes))))
        (local.set $rowEnd (i32.add (local.get $row) (local.get $rowBytes)))
        (local.set $kr (i32.add (local.get $known) (i32.mul (local.get $p) (local.get $kw))))
        (loop $codes
          ;; known[kr + slot[code >> 1]] = 1; the u16 slot of id sits at byte 2 * id = code & ~1.
          (i32.store8
            (i32.add (local.get $kr)
              (i32.load16_u (i32.add (local.get $slot) (i32.and (i32.load (local.get $row)) (i32.const -2)))))
            (i32.const 1))
          (local.set $row (i32.add (local.get $row) (i32.const 4)))
          (br_if $codes (i32.lt_u (local.get $row) (local.get $rowEnd))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $rows))))

  ;; ------------------------------------------------------------------------------------------
  ;; detours: CAGRA's detour count for node x. Branch-free through `select`.
  ;;   lists    byte address of the kNN lists (i32 codes id << 1 | flag, K per node)
  ;;   K        list length (K >= 2)
  ;;   x        the node
  ;;   rank1    byte address of a u16 array indexed by id: 1 + rank in x's list, 0 if absent
  ;;   detours  byte address of an i32[K + 1] array of counters (the caller zeroes it)
  ;;   (the last two parameters are unused: the function shares $dist's signature)
  ;; With L = the lists: for i < K - 1, a = L[x][i] >> 1; for r < K - 1,
  ;; j1 = rank1[L[a][r] >> 1]: detours[j1 > max(i, r) + 1 ? j1 : 0] += 1. So detours[1 + j]
  ;; counts the two-hop paths x -> a -> (x's j-th neighbour) through better-ranked edges;
  ;; detours[0] collects the rest.
  ;; ------------------------------------------------------------------------------------------
  (func $detours (export "detours") (type $dist)
    (param $lists i32) (param $K i32) (param $x i32) (param $rank1 i32)
    (param $detours i32) (param $unused5 i32) (param $unused6 i32)
    (local $i i32)     ;; rank in x's list
    (local $r i32)     ;; rank in a's list
    (local $arow i32)  ;; address of a's list
    (local $j1 i32)    ;; rank1 of a's r-th neighbour
    (local $addr i32)  ;; address of the counter to bump
    (local $xrow i32)  ;; address of x's list
    (local $lim i32)   ;; max(i, r) + 1

    ;; xrow = lists + x * K * 4
    (local.set $xrow (i32.add (local.get $lists) (i32.shl (i32.mul (local.get $x) (local.get $K)) (i32.const 2))))
    (local.set $i (i32.const 0))
    (block $done
      (loop $ranks
        (br_if $done (i32.ge_u (local.get $i) (i32.sub (local.get $K) (i32.const 1))))
        ;; arow = lists + (L[x][i] >> 1) * K * 4
        (local.set $arow (i32.add (local.get $lists)
          (i32.shl
            (i32.mul
              (i32.shr_u (i32.load (i32.add (local.get $xrow) (i32.shl (local.get $i) (i32.const 2)))) (i32.const 1))
              (local.get $K))
            (i32.const 2))))
        (local.set $r (i32.const 0))
        (loop $hops
          ;; j1 = rank1[L[a][r] >> 1]
          (local.set $j1 (i32.load16_u (i32.add (local.get $rank1)
            (i32.shl
              (i32.shr_u (i32.load (i32.add (local.get $arow) (i32.shl (local.get $r) (i32.const 2)))) (i32.const 1))
              (i32.const 1)))))
          ;; lim = max(i, r) + 1
          (local.set $lim (i32.add
            (select (local.get $i) (local.get $r) (i32.gt_s (local.get $i) (local.get $r)))
            (i32.const 1)))
          ;; addr = detours + (j1 > lim ? j1 : 0) * 4; *addr += 1
          (local.set $addr (i32.add (local.get $detours)
            (i32.shl
              (select (local.get $j1) (i32.const 0) (i32.gt_s (local.get $j1) (local.get $lim)))
              (i32.const 2))))
          (i32.store (local.get $addr) (i32.add (i32.load (local.get $addr)) (i32.const 1)))
          (local.set $r (i32.add (local.get $r) (i32.const 1)))
          (br_if $hops (i32.lt_u (local.get $r) (i32.sub (local.get $K) (i32.const 1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $ranks))))

  ;; ------------------------------------------------------------------------------------------
  ;; joinRowL2: one row of NN-descent's local join, returning the number of offers written.
  ;;   cand     byte address of m i32 candidate ids (the vectors start at byte 0: cand[j] * stride)
  ;;   m        number of candidates
  ;;   i        the row: candidate i is joined with the candidates jj > i
  ;;   known    byte address of the u8 matrix from $scanKnown (row width m + 1; known[r][1 + c]
  ;;            = 1 when candidate c is already in candidate r's list)
  ;;   worst    byte address of m f32: each candidate's current worst list distance
  ;;   subIds   byte address of scratch i32[m]: the ids of the partners gathered
  ;;   subIdx   byte address of scratch i32[m]: their candidate indices
  ;;   out      byte address of scratch f32[m rounded up to 4]: their distances to candidate i
  ;;   offers   byte address of the output: (side i32, other i32, d f32) triples, 12 bytes each
  ;;   stride   bytes per vector (also the bytes the distance kernel reads)
  ;; Partners jj > i not known on both sides are gathered, scored with $l2 into out, and each
  ;; pair that beats a side's worst and is unknown to that side becomes an offer to that side.
  ;; The caller does the list inserts.
  ;; ------------------------------------------------------------------------------------------
  (func $joinRowL2 (export "joinRowL2") (type $joinRow)
    (param $cand i32) (param $m i32) (param $i i32) (param $known i32) (param $worst i32)
    (param $subIds i32) (param $subIdx i32) (param $out i32) (param $offers i32) (param $stride i32)
    (result i32)
    (local $kw i32)     ;; row width of known, m + 1
    (local $ki i32)     ;; (unused)
    (local $c i32)      ;; partners gathered
    (local $jj i32)     ;; partner candidate index
    (local $t i32)      ;; index into the gathered partners
    (local $nOff i32)   ;; offers written
    (local $addr i32)   ;; address of the offer being written
    (local $d f32)      ;; distance of the pair (i, jj)
    (local $wi f32)     ;; worst[i]

    (local.set $kw (i32.add (local.get $m) (i32.const 1)))
    (local.set $jj (i32.add (local.get $i) (i32.const 1)))
    (local.set $c (i32.const 0))
    ;; Gather the partners jj > i unless each is in the other's list: known[i][jj] & known[jj][i].
    (block $gathered
      (loop $gather
        (br_if $gathered (i32.ge_u (local.get $jj) (local.get $m)))
        (if (i32.eqz (i32.and
              (i32.load8_u offset=1 (i32.add (i32.add (local.get $known) (i32.mul (local.get $i) (local.get $kw))) (local.get $jj)))
              (i32.load8_u offset=1 (i32.add (i32.add (local.get $known) (i32.mul (local.get $jj) (local.get $kw))) (local.get $i)))))
          (then
            ;; subIds[c] = cand[jj]; subIdx[c] = jj; c += 1
            (i32.store (i32.add (local.get $subIds) (i32.shl (local.get $c) (i32.const 2)))
              (i32.load (i32.add (local.get $cand) (i32.shl (local.get $jj) (i32.const 2)))))
            (i32.store (i32.add (local.get $subIdx) (i32.shl (local.get $c) (i32.const 2))) (local.get $jj))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))))
        (local.set $jj (i32.add (local.get $jj) (i32.const 1)))
        (br $gather)))
    (if (i32.eqz (local.get $c)) (then (return (i32.const 0))))
    ;; out[0 .. c) = dist(cand[i], subIds[0 .. c))
    (call $l2
      (i32.mul (i32.load (i32.add (local.get $cand) (i32.shl (local.get $i) (i32.const 2)))) (local.get $stride))
      (i32.const 0) (local.get $stride) (local.get $subIds) (local.get $c) (local.get $out) (local.get $stride))
    (local.set $wi (f32.load (i32.add (local.get $worst) (i32.shl (local.get $i) (i32.const 2)))))
    (local.set $nOff (i32.const 0))
    (local.set $t (i32.const 0))
    (block $scored
      (loop $offer
        (br_if $scored (i32.ge_u (local.get $t) (local.get $c)))
        (local.set $d (f32.load (i32.add (local.get $out) (i32.shl (local.get $t) (i32.const 2)))))
        (local.set $jj (i32.load (i32.add (local.get $subIdx) (i32.shl (local.get $t) (i32.const 2)))))
        ;; Offer jj to i when d beats i's worst and i's list lacks jj.
        (if (i32.and
              (f32.lt (local.get $d) (local.get $wi))
              (i32.eqz (i32.load8_u offset=1 (i32.add (i32.add (local.get $known) (i32.mul (local.get $i) (local.get $kw))) (local.get $jj)))))
          (then
            (local.set $addr (i32.add (local.get $offers) (i32.mul (local.get $nOff) (i32.const 12))))
            (i32.store offset=0 (local.get $addr) (local.get $i))
            (i32.store offset=4 (local.get $addr) (local.get $jj))
            (f32.store offset=8 (local.get $addr) (local.get $d))
            (local.set $nOff (i32.add (local.get $nOff) (i32.const 1)))))
        ;; Offer i to jj likewise.
        (if (i32.and
              (f32.lt (local.get $d) (f32.load (i32.add (local.get $worst) (i32.shl (local.get $jj) (i32.const 2)))))
              (i32.eqz (i32.load8_u offset=1 (i32.add (i32.add (local.get $known) (i32.mul (local.get $jj) (local.get $kw))) (local.get $i)))))
          (then
            (local.set $addr (i32.add (local.get $offers) (i32.mul (local.get $nOff) (i32.const 12))))
            (i32.store offset=0 (local.get $addr) (local.get $jj))
            (i32.store offset=4 (local.get $addr) (local.get $i))
            (f32.store offset=8 (local.get $addr) (local.get $d))
            (local.set $nOff (i32.add (local.get $nOff) (i32.const 1)))))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $offer)))
    (local.get $nOff))

  ;; ------------------------------------------------------------------------------------------
  ;; joinRowDot: $joinRowL2 with $negdot as the distance.
  ;; ------------------------------------------------------------------------------------------
  (func $joinRowDot (export "joinRowDot") (type $joinRow)
    (param $cand i32) (param $m i32) (param $i i32) (param $known i32) (param $worst i32)
    (param $subIds i32) (param $subIdx i32) (param $out i32) (param $offers i32) (param $stride i32)
    (result i32)
    (local $kw i32) (local $ki i32) (local $c i32) (local $jj i32) (local $t i32) (local $nOff i32)
    (local $addr i32) (local $d f32) (local $wi f32)

    (local.set $kw (i32.add (local.get $m) (i32.const 1)))
    (local.set $jj (i32.add (local.get $i) (i32.const 1)))
    (local.set $c (i32.const 0))
    (block $gathered
      (loop $gather
        (br_if $gathered (i32.ge_u (local.get $jj) (local.get $m)))
        (if (i32.eqz (i32.and
              (i32.load8_u offset=1 (i32.add (i32.add (local.get $known) (i32.mul (local.get $i) (local.get $kw))) (local.get $jj)))
              (i32.load8_u offset=1 (i32.add (i32.add (local.get $known) (i32.mul (local.get $jj) (local.get $kw))) (local.get $i)))))
          (then
            (i32.store (i32.add (local.get $subIds) (i32.shl (local.get $c) (i32.const 2)))
              (i32.load (i32.add (local.get $cand) (i32.shl (local.get $jj) (i32.const 2)))))
            (i32.store (i32.add (local.get $subIdx) (i32.shl (local.get $c) (i32.const 2))) (local.get $jj))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))))
        (local.set $jj (i32.add (local.get $jj) (i32.const 1)))
        (br $gather)))
    (if (i32.eqz (local.get $c)) (then (return (i32.const 0))))
    (call $negdot
      (i32.mul (i32.load (i32.add (local.get $cand) (i32.shl (local.get $i) (i32.const 2)))) (local.get $stride))
      (i32.const 0) (local.get $stride) (local.get $subIds) (local.get $c) (local.get $out) (local.get $stride))
    (local.set $wi (f32.load (i32.add (local.get $worst) (i32.shl (local.get $i) (i32.const 2)))))
    (local.set $nOff (i32.const 0))
    (local.set $t (i32.const 0))
    (block $scored
      (loop $offer
        (br_if $scored (i32.ge_u (local.get $t) (local.get $c)))
        (local.set $d (f32.load (i32.add (local.get $out) (i32.shl (local.get $t) (i32.const 2)))))
        (local.set $jj (i32.load (i32.add (local.get $subIdx) (i32.shl (local.get $t) (i32.const 2)))))
        (if (i32.and
              (f32.lt (local.get $d) (local.get $wi))
              (i32.eqz (i32.load8_u offset=1 (i32.add (i32.add (local.get $known) (i32.mul (local.get $i) (local.get $kw))) (local.get $jj)))))
          (then
            (local.set $addr (i32.add (local.get $offers) (i32.mul (local.get $nOff) (i32.const 12))))
            (i32.store offset=0 (local.get $addr) (local.get $i))
            (i32.store offset=4 (local.get $addr) (local.get $jj))
            (f32.store offset=8 (local.get $addr) (local.get $d))
            (local.set $nOff (i32.add (local.get $nOff) (i32.const 1)))))
        (if (i32.and
              (f32.lt (local.get $d) (f32.load (i32.add (local.get $worst) (i32.shl (local.get $jj) (i32.const 2)))))
              (i32.eqz (i32.load8_u offset=1 (i32.add (i32.add (local.get $known) (i32.mul (local.get $jj) (local.get $kw))) (local.get $i)))))
          (then
            (local.set $addr (i32.add (local.get $offers) (i32.mul (local.get $nOff) (i32.const 12))))
            (i32.store offset=0 (local.get $addr) (local.get $jj))
            (i32.store offset=4 (local.get $addr) (local.get $i))
            (f32.store offset=8 (local.get $addr) (local.get $d))
            (local.set $nOff (i32.add (local.get $nOff) (i32.const 1)))))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $offer)))
    (local.get $nOff)))
