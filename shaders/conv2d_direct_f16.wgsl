// conv2d_direct.wgsl with the packed weights stored as f16 (half the weight bytes; accumulation stays f32).
// Channel blocks must lie inside one group (no GROUPED path). Needs the shader-f16 feature.
//
// x (N, C, H, W); w packed (KH, KW, C/groups, Opad) as f16 vec4 over output channels; bias (O);
// y (N, O, out_h, out_w), of which the Ho x Wo pixels of the output map (see Conv) are written.
// Epilogue, in this order: + bias, activation, · out_scale, + res_scale · residual.
enable f16;

override WG: u32 = 64u;
override OCV: u32 = 2u;              // vec4s of output channels per invocation: 1 or 2
override ACT: u32 = 0u;              // CONV_ACTIVATIONS in src/kernels/conv_kernels.ts
override HAS_RESIDUAL: bool = false;

const PX: u32 = 4u;                  // output pixels per invocation

struct Conv {
  n: u32, c: u32, h: u32, w: u32,          // input
  o: u32, ho: u32, wo: u32, opad4: u32,    // output channels and size; packed row length in vec4s
  cin_g: u32, cout_g: u32, kh: u32, kw: u32,
  sh: u32, sw: u32, dh: u32, dw: u32,
  pt: i32, pl: i32,                        // top and left padding (negative crops)
  out_h: u32, out_w: u32,                  // the output tensor's plane; pixel (oh, ow) is stored at
  out_sh: u32, out_sw: u32,                //   row out_oh + oh·out_sh, column out_ow + ow·out_sw
  out_oh: u32, out_ow: u32,                //   (a transposed convolution's phase; plain convs: 1 and 0)
  row_blocks: u32,                         // pixel blocks per output row
  blocks: u32,                             // pixel blocks in the batch: n · ho · row_blocks
  oc_blocks: u32,
  tiles: u32,                              // workgroups per channel block
  alpha: f32,                              // leakyRelu slope
  out_scale: f32,
  res_scale: f32,
  slopes: u32,                             // prelu slopes: 1 or o
}

@group(0) @binding(0) var<uniform> p: Conv;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f16>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> slope: array<f32>;      // any buffer unless ACT is prelu
@group(0) @binding(5) var<storage, read> residual: array<f32>;   // any buffer unless HAS_RESIDUAL
@group(0) @binding(6) var<storage, read_write> y: array<f32>;

// ---- epilogue (the same in every conv shader: WGSL has no includes) ----

// erf with |error| < 1.5e-7 (Abramowitz & Stegun 7.1.26), enough for exact-mode GELU in f32.
fn erf_approx(v: f32) -> f32 {
  let a = abs(v);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign(v) * (1.0 - poly * exp(-a * a));
}

// tanh from exp, clamped so exp never overflows (WGSL's tanh is imprecise on some drivers).
fn stable_tanh(v: f32) -> f32 {
  let e = exp(2.0 * clamp(v, -15.0, 15.0));
  return (e - 1.0) / (e + 1.0);
}

fn stable_sigmoid(v: f32) -> f32 {
  let e = exp(-abs(v));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), v >= 0.0);
}

fn finish(acc: f32, oc: u32, at: u32) -> f32 {
  var v = acc + bias[oc];
  switch ACT {
    case 1u: { v = max(v, 0.0); }
    case 2u: { v = select(v * p.alpha, v, v >= 0.0); }
    case 3u: { v = v * stable_sigmoid(v); }
    case 4u: { v = 0.5 * v * (1.0 + erf_approx(v * 0.7071067811865476)); }
    case 5u: { v = 0.5 * v * (1.0 + stable_tanh(0.7978845608028654 * (v + 0.044715 * v * v * v))); }
    case 6u: { v = stable_tanh(v); }
    case 7u: { v = stable_sigmoid(v); }
    case 8u: { v = select(v * slope[min(oc, p.slopes - 1u)], v, v >= 0.0); }
    default: {}
  }
  v = v * p.out_scale;
  if (HAS_RESIDUAL) {
    v = v + p.res_scale * residual[at];
  }
  return v;
}

// ---- kernel ----

// Stores output pixel (oh, ow)'s accumulators for the channels from oc0 (4, fewer at the end).
fn store(acc: vec4<f32>, n: u32, oc0: u32, oh: u32, ow: u32) {
  let pix = (p.out_oh + oh * p.out_sh) * p.out_w + p.out_ow + ow * p.out_sw;
  for (var l = 0u; l < min(4u, p.o - oc0); l++) {
    let at = (n * p.o + oc0 + l) * p.out_h * p.out_w + pix;
    y[at] = finish(acc[l], oc0 + l, at);
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + wid.y * nwg.x + wid.z * nwg.x * nwg.y;
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
  let plane = (n * p.c + (oc0 / p.cout_g) * p.cin_g) * hw;
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
        let at = plane + off;
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
