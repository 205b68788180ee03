// Direct 2-D convolution, register-blocked: each invocation computes 4 consecutive output pixels of one row
// for 4·OCV output channels, with vec4 weight loads along the output channels. A workgroup's invocations share
// one channel block and cover consecutive pixel blocks, so they read the same weights and neighbouring
// inputs. No workgroup memory and no barriers: the fast general path on CPU adapters and for small layers.
// Handles any stride, dilation, padding and groups (GROUPED: a channel block that spans groups, e.g.
// depthwise, reads one input channel per output channel). Accumulators are named vec4s, not arrays: a JIT
// without scalar replacement (SwiftShader's) would otherwise keep them in memory.
// The f16 variant (shader-f16) reads the packed weights as f16: half the weight bytes, the same f32 sums.
//
// x (N, C, H, W); w packed (KH, KW, C/groups, Opad) as vec4 over output channels; bias (O);
// y (N, O, out_h, out_w), of which the Ho x Wo pixels of the output map (see Conv) are written.
// Epilogue (lib/conv_epilogue.wgsl), in this order: + bias, activation, · out_scale, + res_scale · residual.
// Grid (Conv): row_blocks pixel blocks per output row, blocks = n · ho · row_blocks in the batch, oc_blocks
// channel blocks, tiles workgroups per channel block.
//! import "lib/grid.wgsl"
//! import "lib/conv.wgsl"

alias weight4 = vec4<f32>;           //! elem

override WG: u32 = 64u;
override OCV: u32 = 2u;              // vec4s of output channels per invocation: 1 or 2
override GROUPED: bool = false;

const PX: u32 = 4u;                  // output pixels per invocation

@group(0) @binding(0) var<uniform> p: Conv;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<weight4>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> slope: array<f32>;      // any buffer unless ACT is prelu
@group(0) @binding(5) var<storage, read> residual: array<f32>;   // any buffer unless HAS_RESIDUAL
@group(0) @binding(6) var<storage, read_write> y: array<f32>;

// Stores output pixel (oh, ow)'s accumulators for the channels from oc0 (4, fewer at the end).
fn store(acc: vec4<f32>, n: u32, oc0: u32, oh: u32, ow: u32) {
  let pix = (p.out_oh + oh * p.out_sh) * p.out_w + p.out_ow + ow * p.out_sw;
  for (var l = 0u; l < min(4u, p.o - oc0); l++) {
    let at = (n * p.o + oc0 + l) * p.out_h * p.out_w + pix;
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
  // Neighbouring workgroups take the same pixels for different channel blocks: their inputs stay in cache.
  let ocb = wg % p.oc_blocks;
  let b = (wg / p.oc_blocks) * WG + lid;
  if (wg >= p.tiles * p.oc_blocks || b >= p.blocks) {
    return;
  }
  let per_image = p.ho * p.row_blocks;
  let n = b / per_image;
  let oh = (b % per_image) / p.row_blocks;
  let ow0 = (b % p.row_blocks) * PX;
  let oc0 = ocb * OCV * 4u;
  let hw = p.h * p.w;
  let plane0 = planes(n, oc0);
  let plane1 = planes(n, oc0 + 4u);
  let second = select(0u, 1u, OCV > 1u);

  // a*: channels oc0…oc0+3, b*: the next 4 (OCV == 2); digit = pixel.
  var a0 = vec4<f32>(0.0);
  var a1 = vec4<f32>(0.0);
  var a2 = vec4<f32>(0.0);
  var a3 = vec4<f32>(0.0);
  var b0 = vec4<f32>(0.0);
  var b1 = vec4<f32>(0.0);
  var b2 = vec4<f32>(0.0);
  var b3 = vec4<f32>(0.0);
  let ih0 = i32(oh * p.sh) - p.pt;
  let iw0 = vec4<i32>(i32(ow0 * p.sw) - p.pl) + vec4<i32>(0, 1, 2, 3) * i32(p.sw);
  for (var kh = 0u; kh < p.kh; kh++) {
    let ih = ih0 + i32(kh * p.dh);
    let row_ok = ih >= 0 && ih < i32(p.h);
    for (var kw = 0u; kw < p.kw; kw++) {
      // This tap's input offsets within a plane for the 4 pixels; padding reads are masked to zero.
      let iw = iw0 + vec4<i32>(i32(kw * p.dw));
      let ok = vec4<bool>(row_ok) & (iw >= vec4<i32>(0)) & (iw < vec4<i32>(i32(p.w)));
      var off = select(vec4<u32>(0u), vec4<u32>(vec4<i32>(ih * i32(p.w)) + iw), ok);
      var wi = (kh * p.kw + kw) * p.cin_g * p.opad4 + ocb * OCV;
      for (var c = 0u; c < p.cin_g; c++) {
        let w0 = vec4<f32>(w[wi]);
        let w1 = vec4<f32>(w[wi + second]);
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

  var acc = array<vec4<f32>, 8>(a0, a1, a2, a3, b0, b1, b2, b3);
  // A trip count that is not a constant keeps the loop rolled: one copy of the epilogue, quick compiles.
  let pixels = min(PX, p.wo - ow0);
  for (var i = 0u; i < OCV * pixels; i++) {
    let oc = oc0 + (i / pixels) * 4u;
    if (oc < p.o) {
      store(acc[(i / pixels) * PX + i % pixels], n, oc, oh, ow0 + i % pixels);
    }
  }
}
