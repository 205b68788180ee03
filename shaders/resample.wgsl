// torch.nn.functional.interpolate on NCHW, with the index arithmetic of PyTorch's CPU kernels
// (aten/src/ATen/native/UpSample.h) in f32, so nearest modes pick the same source pixels as torch:
// (P = N·C, H, W) -> (P, OH, OW).
// Each invocation writes PER_THREAD consecutive outputs of one row, so the row's source lines and weight are
// found once; long runs per invocation are what the CPU-emulated drivers are fast at (64 beat 4 by 1.5-4×).
//! import "lib/grid.wgsl"

override MODE: u32 = 0u;              // 0 nearest, 1 nearest-exact, 2 bilinear (see src/kernels/resample.ts)
override ALIGN_CORNERS: bool = false; // bilinear only
override WORKGROUP: u32 = 64u;
override PER_THREAD: u32 = 64u;  // consecutive outputs of a row per invocation

struct Params {
  rows: u32,         // P · OH
  row_blocks: u32,   // ceil(OW / PER_THREAD)
  in_h: u32,
  in_w: u32,
  out_h: u32,
  out_w: u32,
  scale_h: f32,      // source distance per output pixel, as torch computes it (src/kernels/resample.ts)
  scale_w: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

fn nearest_index(o: u32, in_size: u32, out_size: u32, scale: f32) -> u32 {
  if (MODE == 1u) {
    return min(u32(floor((f32(o) + 0.5) * scale)), in_size - 1u);
  }
  // torch's CPU shortcuts; they differ from the formula for some factors (1.1 on 4 pixels keeps all 4).
  if (out_size == in_size) {
    return o;
  }
  if (out_size == 2u * in_size) {
    return o >> 1u;
  }
  return min(u32(floor(f32(o) * scale)), in_size - 1u);
}

// Two source indices and the weight of the second.
struct Linear {
  i0: u32,
  i1: u32,
  l1: f32,
}

fn linear_index(o: u32, in_size: u32, out_size: u32, scale: f32) -> Linear {
  if (out_size == in_size) {
    return Linear(o, o, 0.0);
  }
  var src: f32;
  if (ALIGN_CORNERS) {
    src = scale * f32(o);
  } else {
    src = max(scale * (f32(o) + 0.5) - 0.5, 0.0);
  }
  let i0 = min(u32(floor(src)), in_size - 1u);
  let i1 = i0 + select(0u, 1u, i0 < in_size - 1u);
  return Linear(i0, i1, clamp(src - f32(i0), 0.0, 1.0));
}

@compute @workgroup_size(WORKGROUP)
fn main(grid: Grid, @builtin(local_invocation_id) lid: vec3<u32>) {
  let thread = invocation_index(grid, lid.x, WORKGROUP);
  let row = thread / params.row_blocks;
  if (row >= params.rows) {
    return;
  }
  let plane = row / params.out_h;
  let oh = row % params.out_h;
  let ow0 = (thread % params.row_blocks) * PER_THREAD;
  let ow1 = min(ow0 + PER_THREAD, params.out_w);
  let in_plane = plane * params.in_h * params.in_w;
  let out_row = row * params.out_w;

  if (MODE == 2u) {
    let h = linear_index(oh, params.in_h, params.out_h, params.scale_h);
    let r0 = in_plane + h.i0 * params.in_w;
    let r1 = in_plane + h.i1 * params.in_w;
    let h0 = 1.0 - h.l1;
    for (var ow = ow0; ow < ow1; ow++) {
      let w = linear_index(ow, params.in_w, params.out_w, params.scale_w);
      let w0 = 1.0 - w.l1;
      y[out_row + ow] = h0 * (w0 * x[r0 + w.i0] + w.l1 * x[r0 + w.i1]) + h.l1 * (w0 * x[r1 + w.i0] + w.l1 * x[r1 + w.i1]);
    }
    return;
  }
  let r = in_plane + nearest_index(oh, params.in_h, params.out_h, params.scale_h) * params.in_w;
  for (var ow = ow0; ow < ow1; ow++) {
    y[out_row + ow] = x[r + nearest_index(ow, params.in_w, params.out_w, params.scale_w)];
  }
}
