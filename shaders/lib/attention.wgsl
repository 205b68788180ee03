// What the attention kernels share (attention.wgsl explains the algorithm): the overrides, uniforms and
// bindings src/kernels/attention.ts fills for every variant, the operand loads, the online-softmax step and
// the output store. q, k, v and out are stored as `elem` / `elem4`, aliases the kernel declares (f32, or f16
// in its f16 variant); scores, the softmax and the accumulators are f32 whatever the storage.

override WORKGROUP: u32 = 64u;
override ROWS: u32 = 2u;          // query rows per invocation, <= MAX_ROWS

const MAX_ROWS: u32 = 8u;
const MAX_D4: u32 = 32u;          // head dims up to 128 (MAX_HEAD_DIM in src/kernels/attention.ts)
const NEG: f32 = -3.4028234e38;   // below every finite score; the running max starts here

struct Params {
  lq: u32,
  lk: u32,
  d: u32,
  dv: u32,
  heads: u32,             // H, to split the (b, h) index
  blocks: u32,            // query blocks of ROWS·WORKGROUP rows per (b, h)
  units: u32,             // B · H · blocks: workgroups that do work
  scale: f32,
  mask_kind: u32,         // 0 none, 1 additive f32, 2 bool from i32 (nonzero attends), 3 bool from f32
  causal: u32,            // 1: key j is visible to query i iff j <= i (top-left aligned, like torch)
  vec: u32,               // 1: k and v read as vec4 (D, Dv, k/v strides and offsets are multiples of 4)
  q_str: vec4<u32>,       // (b, h, row, offset) in elements; the head dim has stride 1
  k_str: vec4<u32>,
  v_str: vec4<u32>,
  o_str: vec4<u32>,
  mask_str: vec4<u32>,    // (b, h, query, key); 0 where the mask broadcasts
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<elem>;
@group(0) @binding(2) var<storage, read> k: array<elem>;
@group(0) @binding(3) var<storage, read> v: array<elem>;
@group(0) @binding(4) var<storage, read> k4: array<elem4>;   // the buffer of k again, for vec4 loads
@group(0) @binding(5) var<storage, read> v4: array<elem4>;   // the buffer of v again
@group(0) @binding(6) var<storage, read> mask: array<u32>;   // any buffer when mask_kind == 0
@group(0) @binding(7) var<storage, read_write> out: array<elem>;

// Four consecutive elements of a row starting at `at`, zero past `len` (the row's end).
fn load_k(at: u32, i: u32, len: u32) -> vec4<f32> {
  if (params.vec != 0u) {
    return vec4<f32>(k4[at / 4u]);
  }
  var r = vec4<f32>(0.0);
  for (var c = 0u; c < 4u; c++) {
    if (i + c < len) {
      r[c] = f32(k[at + c]);
    }
  }
  return r;
}

fn load_v(at: u32, i: u32, len: u32) -> vec4<f32> {
  if (params.vec != 0u) {
    return vec4<f32>(v4[at / 4u]);
  }
  var r = vec4<f32>(0.0);
  for (var c = 0u; c < 4u; c++) {
    if (i + c < len) {
      r[c] = f32(v[at + c]);
    }
  }
  return r;
}

// A workgroup's share: ROWS·WORKGROUP query rows from `first` of one (batch, head), and where that head's
// K, V and mask rows start.
struct Block {
  b: u32,
  h: u32,
  first: u32,
  k_base: u32,
  v_base: u32,
  m_base: u32,
}

fn block_of(wg: u32) -> Block {
  let bh = wg / params.blocks;
  let b = bh / params.heads;
  let h = bh % params.heads;
  return Block(b, h, (wg % params.blocks) * ROWS * WORKGROUP,
               b * params.k_str.x + h * params.k_str.y + params.k_str.w,
               b * params.v_str.x + h * params.v_str.y + params.v_str.w,
               b * params.mask_str.x + h * params.mask_str.y);
}

// vec4 `e` of query row `row`, pre-scaled, zero past d.
fn load_q(blk: Block, row: u32, e: u32) -> vec4<f32> {
  let q_base = blk.b * params.q_str.x + blk.h * params.q_str.y + row * params.q_str.z + params.q_str.w;
  var x = vec4<f32>(0.0);
  for (var c = 0u; c < 4u; c++) {
    if (e * 4u + c < params.d) {
      x[c] = f32(q[q_base + e * 4u + c]);
    }
  }
  return x * params.scale;
}

// The keys the block's rows can see: all, or for a causal block none past its last row.
fn key_end(blk: Block) -> u32 {
  if (params.causal != 0u) {
    return min(params.lk, min(blk.first + ROWS * WORKGROUP, params.lq));
  }
  return params.lk;
}

// What folding four keys' scores into a query row's online softmax gives: the keys' weights p (0 for keys
// blocked by the tile end, causality or the mask), the factor `corr` that rescales what the row has
// accumulated so far, and the row's new running max and sum.
struct Fold {
  p: vec4<f32>,
  corr: f32,
  max: f32,
  sum: f32,
}

// Scores s of keys j0…j0+3 (loaded as js, clamped below t_end) for query `row`.
fn fold(s: vec4<f32>, row: u32, j0: u32, js: vec4<u32>, t_end: u32, blk: Block, row_max: f32, row_sum: f32) -> Fold {
  var sr = s;
  var ok = vec4<u32>(j0, j0 + 1u, j0 + 2u, j0 + 3u) < vec4<u32>(t_end);
  if (params.causal != 0u) {
    ok = ok & (js <= vec4<u32>(row));
  }
  if (params.mask_kind != 0u) {
    let mrow = blk.m_base + min(row, params.lq - 1u) * params.mask_str.z;
    let bits = vec4<u32>(mask[mrow + js.x * params.mask_str.w], mask[mrow + js.y * params.mask_str.w],
                         mask[mrow + js.z * params.mask_str.w], mask[mrow + js.w * params.mask_str.w]);
    if (params.mask_kind == 1u) {
      sr += bitcast<vec4<f32>>(bits);
      ok = ok & (sr >= vec4<f32>(NEG));  // −inf (and NaN) block the key
    } else if (params.mask_kind == 2u) {
      ok = ok & (bits != vec4<u32>(0u));
    } else {
      ok = ok & ((bits & vec4<u32>(0x7fffffffu)) != vec4<u32>(0u));
    }
  }
  let live = select(vec4<f32>(NEG), sr, ok);
  let m_new = max(row_max, max(max(live.x, live.y), max(live.z, live.w)));
  let p = select(vec4<f32>(0.0), exp(sr - m_new), ok);
  let corr = exp(row_max - m_new);
  return Fold(p, corr, m_new, row_sum * corr + (p.x + p.y + p.z + p.w));
}

// Stores vec4 `e` of query row `row`'s output, acc / sum, up to dv. A row whose every key was blocked has sum
// 0 and gets zeros, where torch gives NaN.
fn store_out(blk: Block, row: u32, e: u32, acc: vec4<f32>, sum: f32) {
  let o_base = blk.b * params.o_str.x + blk.h * params.o_str.y + row * params.o_str.z + params.o_str.w;
  let y = acc * select(0.0, 1.0 / sum, sum > 0.0);
  for (var c = 0u; c < 4u; c++) {
    if (e * 4u + c < params.dv) {
      out[o_base + e * 4u + c] = elem(y[c]);
    }
  }
}
