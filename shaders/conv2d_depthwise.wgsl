// Depthwise 2-D convolution: every output channel reads one input channel (C/groups = 1, any channel
// multiplier), with stride_w and dilation_w 1. Each invocation computes PX = 8 consecutive output pixels of one
// row of one channel, as two vec4 accumulators. For each kernel row it loads the 8 input values under the
// segment once and slides them one column per tap, so a tap costs one new input load and one weight load for
// 8 multiply-adds. (The direct kernel's GROUPED path gathers 4 channels × 4 pixels per tap: a load per
// multiply-add, which made depthwise layers 2× slower than TF.js on SwiftShader.) Adjacent invocations take
// adjacent segments of a row, so a workgroup reads contiguous input and the same weights.
//
// x (N, C, H, W); w packed (KH, KW, 1, Opad), read as scalars; bias (O);
// y (N, O, out_h, out_w), of which the Ho x Wo pixels of the output map (see Conv) are written.
// Epilogue (lib/conv_epilogue.wgsl), in this order: + bias, activation, · out_scale, + res_scale · residual.
// Grid (Conv): row_blocks segments per output row, blocks = n · o · ho · row_blocks, tiles workgroups
// (oc_blocks is 1: the channel is part of the segment index).
//! import "lib/grid.wgsl"
//! import "lib/conv.wgsl"

override WG: u32 = 64u;

const PX: u32 = 8u;                  // output pixels per invocation

@group(0) @binding(0) var<uniform> p: Conv;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> slope: array<f32>;      // any buffer unless ACT is prelu
@group(0) @binding(5) var<storage, read> residual: array<f32>;   // any buffer unless HAS_RESIDUAL
@group(0) @binding(6) var<storage, read_write> y: array<f32>;

// Column iw of the input row starting at `row`; padding reads zero.
fn column(row: u32, iw: i32) -> f32 {
  return select(0.0, x[row + u32(clamp(iw, 0, i32(p.w) - 1))], iw >= 0 && iw < i32(p.w));
}

@compute @workgroup_size(WG)
fn main(grid: Grid, @builtin(local_invocation_index) lid: u32) {
  let b = invocation_index(grid, lid, WG);
  if (b >= p.blocks) {
    return;
  }
  let ow0 = (b % p.row_blocks) * PX;
  let row_index = b / p.row_blocks;      // (n, oc, oh)
  let oh = row_index % p.ho;
  let oc = (row_index / p.ho) % p.o;
  let n = row_index / (p.ho * p.o);
  let plane = (n * p.c + oc / p.cout_g) * p.h * p.w;
  let opad = p.opad4 * 4u;
  let iw0 = i32(ow0) - p.pl;

  // lo: pixels ow0…ow0+3, hi: ow0+4…ow0+7.
  var lo_acc = vec4<f32>(0.0);
  var hi_acc = vec4<f32>(0.0);
  for (var kh = 0u; kh < p.kh; kh++) {
    let ih = i32(oh * p.sh + kh * p.dh) - p.pt;
    if (ih < 0 || ih >= i32(p.h)) {
      continue;
    }
    let row = plane + u32(ih) * p.w;
    // The inputs under the 8 pixels at this tap; each tap shifts them one column left.
    var lo = vec4<f32>(column(row, iw0), column(row, iw0 + 1), column(row, iw0 + 2), column(row, iw0 + 3));
    var hi = vec4<f32>(column(row, iw0 + 4), column(row, iw0 + 5), column(row, iw0 + 6), column(row, iw0 + 7));
    var wi = kh * p.kw * opad + oc;
    for (var kw = 0u; kw < p.kw; kw++) {
      let tap = vec4<f32>(w[wi]);
      lo_acc = fma(tap, lo, lo_acc);
      hi_acc = fma(tap, hi, hi_acc);
      lo = vec4<f32>(lo.yzw, hi.x);
      hi = vec4<f32>(hi.yzw, column(row, iw0 + i32(PX + kw)));
      wi += opad;
    }
  }

  var acc = array<vec4<f32>, 2>(lo_acc, hi_acc);
  let base = ((n * p.o + oc) * p.out_h + p.out_oh + oh * p.out_sh) * p.out_w + p.out_ow;
  // A trip count that is not a constant keeps the loop rolled: one copy of the epilogue, quick compiles.
  for (var i = 0u; i < min(PX, p.wo - ow0); i++) {
    let at = base + (ow0 + i) * p.out_sw;
    y[at] = finish(acc[i / 4u][i % 4u], oc, at);
  }
}
