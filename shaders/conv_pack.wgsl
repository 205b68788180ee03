// Repacks PyTorch convolution weights once, at load time, into the layout every conv kernel reads:
// (TH, TW, C_in/groups, Opad) with output channels contiguous (vec4 loads) and zero-filled up to Opad.
//   conv2d:            weight (O, C/groups, KH, KW); one block, TH = KH, TW = KW.
//   conv_transpose2d:  weight (C_in, O/groups, KH, KW); one block per output phase, holding only the taps
//                      that phase uses: destination tap j reads kernel row kh0 + j · kh_step (same for columns;
//                      the step is negative because a phase meets its taps in reverse order).
// `pack` writes f32; `pack_f16` writes the same values as f16 pairs (pack2x16float needs no f16 extension).
//! import "lib/grid.wgsl"

override WORKGROUP: u32 = 64u;

struct Pack {
  count: u32,       // destination elements of this block
  dst: u32,         // first destination element (even for pack_f16)
  o: u32,           // output channels
  opad: u32,        // o rounded up to a multiple of 4
  cin_g: u32,       // input channels per group
  cout_g: u32,      // output channels per group
  kh: u32,          // source kernel size
  kw: u32,
  taps_h: u32,      // destination taps
  taps_w: u32,
  kh0: i32,
  kw0: i32,
  kh_step: i32,
  kw_step: i32,
  transposed: u32,  // 1 when the source is a conv_transpose2d weight
}

@group(0) @binding(0) var<uniform> p: Pack;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> out16: array<u32>;

fn source(i: u32) -> f32 {
  let oc = i % p.opad;
  if (i >= p.count || oc >= p.o) {
    return 0.0;
  }
  var r = i / p.opad;
  let icg = r % p.cin_g;
  r = r / p.cin_g;
  let kh = u32(p.kh0 + i32(r / p.taps_w) * p.kh_step);
  let kw = u32(p.kw0 + i32(r % p.taps_w) * p.kw_step);
  if (p.transposed == 0u) {
    return w[((oc * p.cin_g + icg) * p.kh + kh) * p.kw + kw];
  }
  let g = oc / p.cout_g;
  return w[(((g * p.cin_g + icg) * p.cout_g + oc % p.cout_g) * p.kh + kh) * p.kw + kw];
}

@compute @workgroup_size(WORKGROUP)
fn pack(grid: Grid, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = invocation_index(grid, lid.x, WORKGROUP);
  if (i < p.count) {
    out[p.dst + i] = source(i);
  }
}

@compute @workgroup_size(WORKGROUP)
fn pack_f16(grid: Grid, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = invocation_index(grid, lid.x, WORKGROUP);
  if (2u * i < p.count) {
    out16[p.dst / 2u + i] = pack2x16float(vec2<f32>(source(2u * i), source(2u * i + 1u)));
  }
}
