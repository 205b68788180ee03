// C = act(alpha * A @ B + bias) over broadcast batch dims.
// A (batch…, M, K) row-major; B (batch…, K, N), or (batch…, N, K) when TRANS_B; C (batch…, M, N) contiguous.
// Each invocation of either entry point owns a 4x4 block of C held in four vec4 accumulators:
//   blocked: operands straight from storage, no workgroup memory and no barriers (fast on CPU adapters,
//            where barriers are costly and the caches do the staging);
//   tiled:   a workgroup stages TILE_K-deep slices of a (4·TILE_WG)² tile of C in workgroup memory (real GPUs).
//! import "lib/grid.wgsl"
//! import "lib/activation.wgsl"

override TRANS_B: bool = false;
override VEC_A: bool = false;    // A read as vec4: K % 4 == 0 and A's batch strides % 4 == 0
override VEC_B: bool = false;    // B read as vec4 along its contiguous dim (K when TRANS_B, else N)
override BIAS: u32 = 0u;         // 0 none, 1 one per column n (linear), 2 one per row m (1x1 conv on NCHW)
override ACT: u32 = 12u;         // UNARY_OPS codes of src/kernels/elementwise.ts; 12 (copy) is none
override WORKGROUP: u32 = 64u;   // blocked: invocations per workgroup
override TILE_WG: u32 = 16u;     // tiled: the workgroup is TILE_WG x TILE_WG
override TILE_K: u32 = 16u;      // tiled: depth of the staged slices

struct Params {
  m: u32,
  n: u32,
  k: u32,
  batch: u32,                       // number of C matrices
  batch_rank: u32,
  alpha: f32,                       // scales the product, before the bias
  slope: f32,                       // leakyRelu negative slope
  batch_shape: array<vec4<u32>, 2>, // C's batch dims, outermost first
  a_strides: array<vec4<u32>, 2>,   // elements between consecutive A matrices per batch dim; 0 broadcasts
  b_strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> a4: array<vec4<f32>>;  // the buffer of a again, for vec4 loads
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> b4: array<vec4<f32>>;  // the buffer of b again
@group(0) @binding(5) var<storage, read> bias: array<f32>;      // any buffer when BIAS == 0
@group(0) @binding(6) var<storage, read_write> c: array<f32>;

// ---- epilogue ----

fn finish(v: f32, row: u32, col: u32) -> f32 {
  var r = v * params.alpha;
  if (BIAS == 1u) {
    r += bias[col];
  } else if (BIAS == 2u) {
    r += bias[row];
  }
  return activation(ACT, r, params.slope);
}

fn store_row(base: u32, row: u32, col0: u32, v: vec4<f32>) {
  if (row >= params.m) {
    return;
  }
  let at = base + row * params.n;
  for (var j = 0u; j < 4u; j++) {
    let col = col0 + j;
    if (col < params.n) {
      c[at + col] = finish(v[j], row, col);
    }
  }
}

// C rows row0..row0+3, columns col0..col0+3 of matrix `bi`.
fn store_block(bi: u32, row0: u32, col0: u32, acc0: vec4<f32>, acc1: vec4<f32>, acc2: vec4<f32>, acc3: vec4<f32>) {
  let base = bi * params.m * params.n;
  store_row(base, row0, col0, acc0);
  store_row(base, row0 + 1u, col0, acc1);
  store_row(base, row0 + 2u, col0, acc2);
  store_row(base, row0 + 3u, col0, acc3);
}

// ---- addressing ----

fn dim(v: array<vec4<u32>, 2>, i: u32) -> u32 {
  return v[i / 4u][i % 4u];
}

// Element offsets of matrix `bi`'s A (x) and B (y).
fn batch_offsets(bi: u32) -> vec2<u32> {
  var rest = bi;
  var offsets = vec2<u32>(0u, 0u);
  for (var d = i32(params.batch_rank) - 1; d >= 0; d--) {
    let size = dim(params.batch_shape, u32(d));
    let coord = rest % size;
    rest = rest / size;
    offsets += coord * vec2<u32>(dim(params.a_strides, u32(d)), dim(params.b_strides, u32(d)));
  }
  return offsets;
}

// a[i..i+3]; i is a multiple of 4 whenever VEC_A holds.
fn load_a(i: u32) -> vec4<f32> {
  if (VEC_A) {
    return a4[i / 4u];
  }
  return vec4<f32>(a[i], a[i + 1u], a[i + 2u], a[i + 3u]);
}

// b at four indices that are consecutive (and 4-aligned) whenever VEC_B holds.
fn load_b(i0: u32, i1: u32, i2: u32, i3: u32) -> vec4<f32> {
  if (VEC_B) {
    return b4[i0 / 4u];
  }
  return vec4<f32>(b[i0], b[i1], b[i2], b[i3]);
}

// ---- blocked: registers only ----

@compute @workgroup_size(WORKGROUP)
fn blocked(grid: Grid, @builtin(local_invocation_id) li: vec3<u32>) {
  let thread = invocation_index(grid, li.x, WORKGROUP);
  let col_blocks = (params.n + 3u) / 4u;
  let per_matrix = ((params.m + 3u) / 4u) * col_blocks;
  if (thread >= per_matrix * params.batch) {
    return;
  }
  let bi = thread / per_matrix;
  let row0 = ((thread % per_matrix) / col_blocks) * 4u;
  let col0 = (thread % col_blocks) * 4u;
  let offsets = batch_offsets(bi);
  let k = params.k;

  // Rows and columns past the edge read the last valid one (and are never stored): loads need no checks.
  let last_row = params.m - 1u;
  let last_col = params.n - 1u;
  let ra0 = offsets.x + min(row0, last_row) * k;
  let ra1 = offsets.x + min(row0 + 1u, last_row) * k;
  let ra2 = offsets.x + min(row0 + 2u, last_row) * k;
  let ra3 = offsets.x + min(row0 + 3u, last_row) * k;
  let cb0 = min(col0, last_col);
  let cb1 = min(col0 + 1u, last_col);
  let cb2 = min(col0 + 2u, last_col);
  let cb3 = min(col0 + 3u, last_col);
  // TRANS_B: where each of the 4 columns' B rows start; otherwise the 4 columns' offsets within a B row.
  var rb = vec4<u32>(cb0, cb1, cb2, cb3);
  if (TRANS_B) {
    rb = offsets.y + rb * k;
  } else {
    rb += offsets.y;
  }

  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  let k4 = k & ~3u;
  for (var kk = 0u; kk < k4; kk += 4u) {
    let a0 = load_a(ra0 + kk);
    let a1 = load_a(ra1 + kk);
    let a2 = load_a(ra2 + kk);
    let a3 = load_a(ra3 + kk);
    if (TRANS_B) {
      // Rows of Bᵀ: B[col c, kk..kk+3].
      let b0 = load_b(rb.x + kk, rb.x + kk + 1u, rb.x + kk + 2u, rb.x + kk + 3u);
      let b1 = load_b(rb.y + kk, rb.y + kk + 1u, rb.y + kk + 2u, rb.y + kk + 3u);
      let b2 = load_b(rb.z + kk, rb.z + kk + 1u, rb.z + kk + 2u, rb.z + kk + 3u);
      let b3 = load_b(rb.w + kk, rb.w + kk + 1u, rb.w + kk + 2u, rb.w + kk + 3u);
      acc0 += vec4<f32>(dot(a0, b0), dot(a0, b1), dot(a0, b2), dot(a0, b3));
      acc1 += vec4<f32>(dot(a1, b0), dot(a1, b1), dot(a1, b2), dot(a1, b3));
      acc2 += vec4<f32>(dot(a2, b0), dot(a2, b1), dot(a2, b2), dot(a2, b3));
      acc3 += vec4<f32>(dot(a3, b0), dot(a3, b1), dot(a3, b2), dot(a3, b3));
    } else {
      // Rows kk..kk+3 of B at the 4 columns.
      let r0 = rb + kk * params.n;
      let r1 = r0 + params.n;
      let r2 = r1 + params.n;
      let r3 = r2 + params.n;
      let b0 = load_b(r0.x, r0.y, r0.z, r0.w);
      let b1 = load_b(r1.x, r1.y, r1.z, r1.w);
      let b2 = load_b(r2.x, r2.y, r2.z, r2.w);
      let b3 = load_b(r3.x, r3.y, r3.z, r3.w);
      acc0 += a0.x * b0 + a0.y * b1 + a0.z * b2 + a0.w * b3;
      acc1 += a1.x * b0 + a1.y * b1 + a1.z * b2 + a1.w * b3;
      acc2 += a2.x * b0 + a2.y * b1 + a2.z * b2 + a2.w * b3;
      acc3 += a3.x * b0 + a3.y * b1 + a3.z * b2 + a3.w * b3;
    }
  }
  // The last K % 4 steps, one at a time with scalar loads.
  for (var kk = k4; kk < k; kk++) {
    var bv: vec4<f32>;
    if (TRANS_B) {
      bv = vec4<f32>(b[rb.x + kk], b[rb.y + kk], b[rb.z + kk], b[rb.w + kk]);
    } else {
      let r = rb + kk * params.n;
      bv = vec4<f32>(b[r.x], b[r.y], b[r.z], b[r.w]);
    }
    acc0 += a[ra0 + kk] * bv;
    acc1 += a[ra1 + kk] * bv;
    acc2 += a[ra2 + kk] * bv;
    acc3 += a[ra3 + kk] * bv;
  }
  store_block(bi, row0, col0, acc0, acc1, acc2, acc3);
}

// ---- tiled: workgroup memory ----

// (TILE_K, 4·TILE_WG) slices, k-major so an invocation's 4 rows (or columns) sit side by side.
var<workgroup> a_tile: array<f32, TILE_K * TILE_WG * 4u>;
var<workgroup> b_tile: array<f32, TILE_K * TILE_WG * 4u>;

@compute @workgroup_size(TILE_WG, TILE_WG)
fn tiled(grid: Grid, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let wg = workgroup_index(grid);
  let span = TILE_WG * 4u;
  let col_tiles = (params.n + span - 1u) / span;
  let per_matrix = ((params.m + span - 1u) / span) * col_tiles;
  if (wg >= per_matrix * params.batch) {
    return;
  }
  let bi = wg / per_matrix;
  let tile_row0 = ((wg % per_matrix) / col_tiles) * span;
  let tile_col0 = (wg % col_tiles) * span;
  let offsets = batch_offsets(bi);
  let k = params.k;
  let threads = TILE_WG * TILE_WG;

  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k0 = 0u; k0 < k; k0 += TILE_K) {
    // Zero outside the matrices, so the inner loop needs no checks. Neighbouring invocations read
    // neighbouring addresses: along k for A and Bᵀ, along n for B.
    for (var i = li; i < TILE_K * span; i += threads) {
      let m = i / TILE_K;
      let kk = i % TILE_K;
      let row = tile_row0 + m;
      var v = 0.0;
      if (row < params.m && k0 + kk < k) {
        v = a[offsets.x + row * k + k0 + kk];
      }
      a_tile[kk * span + m] = v;
    }
    for (var i = li; i < TILE_K * span; i += threads) {
      var n = i % span;
      var kk = i / span;
      if (TRANS_B) {
        n = i / TILE_K;
        kk = i % TILE_K;
      }
      let col = tile_col0 + n;
      var v = 0.0;
      if (col < params.n && k0 + kk < k) {
        if (TRANS_B) {
          v = b[offsets.y + col * k + k0 + kk];
        } else {
          v = b[offsets.y + (k0 + kk) * params.n + col];
        }
      }
      b_tile[kk * span + n] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TILE_K; kk++) {
      let at = kk * span + lid.y * 4u;
      let bt = kk * span + lid.x * 4u;
      let av = vec4<f32>(a_tile[at], a_tile[at + 1u], a_tile[at + 2u], a_tile[at + 3u]);
      let bv = vec4<f32>(b_tile[bt], b_tile[bt + 1u], b_tile[bt + 2u], b_tile[bt + 3u]);
      acc0 += av.x * bv;
      acc1 += av.y * bv;
      acc2 += av.z * bv;
      acc3 += av.w * bv;
    }
    workgroupBarrier();
  }
  store_block(bi, tile_row0 + lid.y * 4u, tile_col0 + lid.x * 4u, acc0, acc1, acc2, acc3);
}
