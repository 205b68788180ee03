// 2-D convolution as an implicit GEMM tiled in workgroup memory (the fast path on real GPUs):
//   C (pixels M = N·Ho·Wo, channels O/groups) = A (M, K) · B (K, O/groups) per group, K = KH·KW·C/groups,
// where A's rows are the receptive fields, gathered from x straight into workgroup memory one BK-deep slice at
// a time (im2col is never written to global memory), and B is the packed weight. An 8 x 8 workgroup computes
// a 32 x 32 tile of C, each invocation a 4 x 4 block (4 consecutive pixels x 4 channels). Flat workgroup arrays.
// Any stride, dilation, padding and groups (a tile never crosses a group).
//
// x (N, C, H, W); w packed (KH, KW, C/groups, Opad), K index (kh·KW + kw)·C/groups + c; bias (O);
// y (N, O, out_h, out_w), of which the Ho x Wo pixels of the output map (see Conv) are written.
// Epilogue (lib/conv_epilogue.wgsl), in this order: + bias, activation, · out_scale, + res_scale · residual.
// Grid (Conv): row_blocks channel tiles per group, blocks pixel tiles, oc_blocks channel tiles over all
// groups; tiles is unused.
//! import "lib/grid.wgsl"
//! import "lib/conv.wgsl"

const TILE: u32 = 32u;               // BM = BN
const BK: u32 = 16u;
const THREADS: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Conv;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> slope: array<f32>;      // any buffer unless ACT is prelu
@group(0) @binding(5) var<storage, read> residual: array<f32>;   // any buffer unless HAS_RESIDUAL
@group(0) @binding(6) var<storage, read_write> y: array<f32>;

var<workgroup> a_tile: array<f32, 512>;   // [BK][TILE] receptive-field values
var<workgroup> b_tile: array<f32, 512>;   // [BK][TILE] weights

// Stores pixel m's accumulators for the channels from col0 of group g (4, fewer at the end).
fn store(acc: vec4<f32>, m: u32, g: u32, col0: u32) {
  let hw_out = p.ho * p.wo;
  let pix = m % hw_out;
  let at0 = (p.out_oh + (pix / p.wo) * p.out_sh) * p.out_w + p.out_ow + (pix % p.wo) * p.out_sw;
  for (var j = 0u; j < min(4u, p.cout_g - col0); j++) {
    let oc = g * p.cout_g + col0 + j;
    let at = ((m / hw_out) * p.o + oc) * p.out_h * p.out_w + at0;
    y[at] = finish(acc[j], oc, at);
  }
}

@compute @workgroup_size(THREADS)
fn main(grid: Grid, @builtin(local_invocation_index) lid: u32) {
  // The whole workgroup leaves together (or not at all), so the barriers below stay in uniform control flow.
  let wg = workgroup_index(grid);
  if (wg >= p.blocks * p.oc_blocks) {
    return;
  }
  let ct = wg % p.oc_blocks;
  let g = ct / p.row_blocks;
  let n0 = (ct % p.row_blocks) * TILE;          // first channel of the tile within its group
  let m0 = (wg / p.oc_blocks) * TILE;           // first pixel of the tile
  let hw_out = p.ho * p.wo;
  let pixels = p.n * hw_out;
  let k_total = p.kh * p.kw * p.cin_g;
  let ktaps = p.kw * p.cin_g;

  // The A slice element this invocation gathers: pixel m0 + lid % TILE, rows lid / TILE + 2·r.
  let am = m0 + lid % TILE;
  let a_live = am < pixels;
  let an = min(am, pixels - 1u) / hw_out;
  let apix = min(am, pixels - 1u) % hw_out;
  let aih0 = i32((apix / p.wo) * p.sh) - p.pt;
  let aiw0 = i32((apix % p.wo) * p.sw) - p.pl;
  let aplane = (an * p.c + g * p.cin_g) * p.h * p.w;

  let tm = lid % 8u;                            // pixels m0 + 4·tm …
  let tn = lid / 8u;                            // channels n0 + 4·tn …
  // accI[j]: pixel 4·tm + I, channel 4·tn + j (named vec4s: see conv2d_direct.wgsl)
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);

  for (var k0 = 0u; k0 < k_total; k0 += BK) {
    for (var r = 0u; r < BK * TILE / THREADS; r++) {
      let e = lid + r * THREADS;
      let kk = e / TILE;
      let k = k0 + kk;
      // A: k -> (kh, kw, c)
      let kh = k / ktaps;
      let kw = (k % ktaps) / p.cin_g;
      let c = k % p.cin_g;
      let ih = aih0 + i32(kh * p.dh);
      let iw = aiw0 + i32(kw * p.dw);
      let ok = a_live && k < k_total && ih >= 0 && ih < i32(p.h) && iw >= 0 && iw < i32(p.w);
      let src = aplane + (c * p.h + u32(max(ih, 0))) * p.w + u32(max(iw, 0));
      a_tile[e] = select(0.0, x[select(0u, src, ok)], ok);
      // B: row k, channel n0 + e % TILE of group g
      let col = n0 + e % TILE;
      let wok = k < k_total && col < p.cout_g;
      b_tile[e] = select(0.0, w[select(0u, k * p.opad4 * 4u + g * p.cout_g + col, wok)], wok);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      let a = vec4<f32>(a_tile[kk * TILE + tm * 4u], a_tile[kk * TILE + tm * 4u + 1u],
                        a_tile[kk * TILE + tm * 4u + 2u], a_tile[kk * TILE + tm * 4u + 3u]);
      let b = vec4<f32>(b_tile[kk * TILE + tn * 4u], b_tile[kk * TILE + tn * 4u + 1u],
                        b_tile[kk * TILE + tn * 4u + 2u], b_tile[kk * TILE + tn * 4u + 3u]);
      acc0 = fma(vec4<f32>(a.x), b, acc0);
      acc1 = fma(vec4<f32>(a.y), b, acc1);
      acc2 = fma(vec4<f32>(a.z), b, acc2);
      acc3 = fma(vec4<f32>(a.w), b, acc3);
    }
    workgroupBarrier();
  }

  // A trip count that is not a constant keeps the loop rolled: one copy of the epilogue, quick compiles.
  var acc = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  let first = m0 + tm * 4u;
  let rows = select(0u, min(4u, pixels - first), first < pixels && n0 + tn * 4u < p.cout_g);
  for (var i = 0u; i < rows; i++) {
    store(acc[i], first + i, g, n0 + tn * 4u);
  }
}
