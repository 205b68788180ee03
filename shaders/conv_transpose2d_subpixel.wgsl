// Transposed 2-D convolution by sub-pixel decomposition: the outputs whose coordinates are congruent to
// (rh, rw) modulo the stride (one "phase") only ever meet the kernel taps of that phase, so each phase is a
// dense stride-1 convolution of the input with its own small kernel: output (rh + sh·u, rw + sw·v) reads input
// (u − pth + j·dh, v − ptw + k·dw) for its taps j < th, k < tw. No zeros are inserted and no tap is wasted.
// The weights were repacked per phase at load time; a table gives each phase's taps, offsets and weight block.
// One dispatch covers every phase; invocations are register-blocked like conv2d_direct.wgsl: 4 consecutive
// outputs of a phase row (4 consecutive input columns) for 4·OCV channels, weights as vec4 loads.
//
// x (N, C_in, H, W); w: per phase (th, tw, C_in/groups, Opad) as vec4 over output channels; bias (O);
// y (N, O, Ho, Wo). Epilogue (lib/conv_epilogue.wgsl), in this order: + bias, activation, · out_scale,
// + res_scale · residual.
//! import "lib/grid.wgsl"
//! import "lib/conv_epilogue.wgsl"

override WG: u32 = 64u;
override OCV: u32 = 2u;              // vec4s of output channels per invocation: 1 or 2
override GROUPED: bool = false;      // a channel block may span groups

struct ConvT {
  n: u32, c: u32, h: u32, w: u32,          // input
  o: u32, ho: u32, wo: u32, opad4: u32,    // output channels and size; packed row length in vec4s
  cin_g: u32, cout_g: u32, sh: u32, sw: u32,
  dh: u32, dw: u32,                        // input step between a phase's taps: dilation / gcd(stride, dilation)
  uh: u32, uw: u32,                        // outputs per phase, at most: ceil(ho / sh), ceil(wo / sw)
  row_blocks: u32,                         // pixel blocks per phase row
  blocks: u32,                             // pixel blocks per phase: n · uh · row_blocks
  oc_blocks: u32,
  tiles: u32,                              // workgroups per phase and channel block
  alpha: f32,                              // leakyRelu slope
  out_scale: f32,
  res_scale: f32,
  slopes: u32,                             // prelu slopes: 1 or o
}

@group(0) @binding(0) var<uniform> p: ConvT;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> phases: array<vec4<i32>>;  // per phase: (rh, rw, th, tw), (pth, ptw, vec4 offset of its weights, 0)
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read> slope: array<f32>;      // any buffer unless ACT is prelu
@group(0) @binding(6) var<storage, read> residual: array<f32>;   // any buffer unless HAS_RESIDUAL
@group(0) @binding(7) var<storage, read_write> y: array<f32>;

const PX: u32 = 4u;                  // outputs per invocation

// Stores one output pixel's accumulators for the channels from oc0 (4, fewer at the end).
fn store(acc: vec4<f32>, n: u32, oc0: u32, pix: u32) {
  for (var l = 0u; l < min(4u, p.o - oc0); l++) {
    let at = (n * p.o + oc0 + l) * p.ho * p.wo + pix;
    y[at] = finish(acc[l], oc0 + l, at);
  }
}

// The input planes of the 4 channels from oc0 (GROUPED: each output channel's own group).
fn planes(n: u32, oc0: u32) -> vec4<u32> {
  let oc = min(vec4<u32>(oc0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.o - 1u));
  return (vec4<u32>(n * p.c) + (oc / p.cout_g) * p.cin_g) * p.h * p.w;
}

fn gather(plane: vec4<u32>, off: u32) -> vec4<f32> {
  return vec4<f32>(x[plane.x + off], x[plane.y + off], x[plane.z + off], x[plane.w + off]);
}

@compute @workgroup_size(WG)
fn main(grid: Grid, @builtin(local_invocation_index) lid: u32) {
  let wg = workgroup_index(grid);
  let per_phase = p.tiles * p.oc_blocks;
  let phase = wg / per_phase;
  let ocb = wg % p.oc_blocks;
  let b = ((wg % per_phase) / p.oc_blocks) * WG + lid;
  if (phase >= p.sh * p.sw || b >= p.blocks) {
    return;
  }
  let head = phases[2u * phase];
  let tail = phases[2u * phase + 1u];
  let rh = u32(head.x);
  let rw = u32(head.y);
  let th = u32(head.z);
  let tw = u32(head.w);
  let per_image = p.uh * p.row_blocks;
  let n = b / per_image;
  let u = (b % per_image) / p.row_blocks;
  let v0 = (b % p.row_blocks) * PX;
  let oh = rh + p.sh * u;
  if (oh >= p.ho) {
    return;
  }
  let oc0 = ocb * OCV * 4u;
  let hw = p.h * p.w;
  let plane0 = planes(n, oc0);
  let plane1 = planes(n, oc0 + 4u);
  let second = select(0u, 1u, OCV > 1u);

  // a*: channels oc0…oc0+3, b*: the next 4 (OCV == 2); digit = output.
  var a0 = vec4<f32>(0.0);
  var a1 = vec4<f32>(0.0);
  var a2 = vec4<f32>(0.0);
  var a3 = vec4<f32>(0.0);
  var b0 = vec4<f32>(0.0);
  var b1 = vec4<f32>(0.0);
  var b2 = vec4<f32>(0.0);
  var b3 = vec4<f32>(0.0);
  let ih0 = i32(u) - tail.x;
  let iw0 = vec4<i32>(i32(v0) - tail.y) + vec4<i32>(0, 1, 2, 3);
  for (var j = 0u; j < th; j++) {
    let ih = ih0 + i32(j * p.dh);
    let row_ok = ih >= 0 && ih < i32(p.h);
    for (var k = 0u; k < tw; k++) {
      let iw = iw0 + vec4<i32>(i32(k * p.dw));
      let ok = vec4<bool>(row_ok) & (iw >= vec4<i32>(0)) & (iw < vec4<i32>(i32(p.w)));
      var off = select(vec4<u32>(0u), vec4<u32>(vec4<i32>(ih * i32(p.w)) + iw), ok);
      var wi = u32(tail.z) + (j * tw + k) * p.cin_g * p.opad4 + ocb * OCV;
      for (var c = 0u; c < p.cin_g; c++) {
        let w0 = w[wi];
        let w1 = w[wi + second];
        if (GROUPED) {
          let zero = vec4<f32>(0.0);
          a0 = fma(select(zero, gather(plane0, off.x), ok.x), w0, a0);
          a1 = fma(select(zero, gather(plane0, off.y), ok.y), w0, a1);
          a2 = fma(select(zero, gather(plane0, off.z), ok.z), w0, a2);
          a3 = fma(select(zero, gather(plane0, off.w), ok.w), w0, a3);
          if (OCV > 1u) {
            b0 = fma(select(zero, gather(plane1, off.x), ok.x), w1, b0);
            b1 = fma(select(zero, gather(plane1, off.y), ok.y), w1, b1);
            b2 = fma(select(zero, gather(plane1, off.z), ok.z), w1, b2);
            b3 = fma(select(zero, gather(plane1, off.w), ok.w), w1, b3);
          }
        } else {
          let at = plane0.x + off;
          let v = select(vec4<f32>(0.0), vec4<f32>(x[at.x], x[at.y], x[at.z], x[at.w]), ok);
          a0 = fma(vec4<f32>(v.x), w0, a0);
          a1 = fma(vec4<f32>(v.y), w0, a1);
          a2 = fma(vec4<f32>(v.z), w0, a2);
          a3 = fma(vec4<f32>(v.w), w0, a3);
          if (OCV > 1u) {
            b0 = fma(vec4<f32>(v.x), w1, b0);
            b1 = fma(vec4<f32>(v.y), w1, b1);
            b2 = fma(vec4<f32>(v.z), w1, b2);
            b3 = fma(vec4<f32>(v.w), w1, b3);
          }
        }
        wi += p.opad4;
        off += vec4<u32>(hw);
      }
    }
  }

  // Output q of this invocation is column rw + sw·(v0 + q). A trip count that is not a constant keeps the
  // loop rolled: one copy of the epilogue, quick compiles.
  var acc = array<vec4<f32>, 8>(a0, a1, a2, a3, b0, b1, b2, b3);
  let outputs = min(PX, (p.wo - rw + p.sw - 1u) / p.sw - v0);
  for (var i = 0u; i < OCV * outputs; i++) {
    let oc = oc0 + (i / outputs) * 4u;
    if (oc < p.o) {
      store(acc[(i / outputs) * PX + i % outputs], n, oc, oh * p.wo + rw + p.sw * (v0 + i % outputs));
    }
  }
}
