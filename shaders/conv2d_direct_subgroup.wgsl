// Direct 2-D convolution for stride-1 rows, register-blocked across a subgroup (the fast path on CPU adapters,
// where every per-invocation load is a scalar gather but a subgroup shuffle is one vector permute).
// A subgroup of SG lanes owns a segment of SG·PX output pixels of one row, lane l holding pixels l, l + SG,
// l + 2·SG, …, and 4·OCV output channels. For each input channel and kernel row it loads the input row segment
// once, one element per lane and vector (lane l: columns l + SG·m), and builds every tap's operand by
// shuffling those vectors; the tap weights are loaded cooperatively (one vec4 slot per lane) and shuffled the
// same way. Kernel size and horizontal dilation are override constants so the tap loops unroll. (Aligned vec4
// row loads, half the gathers, measured no faster on lavapipe.) GROUPED (OCV == 1): the block's 4 channels
// read different input channels (depthwise and other small groups), so each row vector holds 4 channels.
// Needs SG == the device's fixed subgroup size and stride_w == 1.
//
// x (N, C, H, W); w packed (KH, KW, C/groups, Opad) as vec4 over output channels; bias (O);
// y (N, O, out_h, out_w), of which the Ho x Wo pixels of the output map (see Conv) are written.
// Epilogue, in this order: + bias, activation, · out_scale, + res_scale · residual.
enable subgroups;

override WG: u32 = 64u;              // a multiple of SG
override SG: u32 = 8u;
override PX: u32 = 4u;               // pixels per lane, <= 4
override OCV: u32 = 2u;              // vec4s of output channels, <= 4; PX·OCV <= 8
override KH: u32 = 3u;
override KW: u32 = 3u;
override DW: u32 = 1u;               // horizontal dilation
override GROUPED: bool = false;
override ACT: u32 = 0u;              // CONV_ACTIVATIONS in src/kernels/conv_kernels.ts
override HAS_RESIDUAL: bool = false;

// Input vectors per row: PX plus those the widest tap shift reaches into.
override NV: u32 = PX + ((KW - 1u) * DW + SG - 1u) / SG;     // <= MAX_NV
// Weight vec4 slots per kernel row, spread over the lanes.
override NWL: u32 = (KW * OCV + SG - 1u) / SG;        // <= MAX_NWL

struct Conv {
  n: u32, c: u32, h: u32, w: u32,          // input
  o: u32, ho: u32, wo: u32, opad4: u32,    // output channels and size; packed row length in vec4s
  cin_g: u32, cout_g: u32, kh: u32, kw: u32,
  sh: u32, sw: u32, dh: u32, dw: u32,
  pt: i32, pl: i32,                        // top and left padding (negative crops)
  out_h: u32, out_w: u32,                  // the output tensor's plane; pixel (oh, ow) is stored at
  out_sh: u32, out_sw: u32,                //   row out_oh + oh·out_sh, column out_ow + ow·out_sw
  out_oh: u32, out_ow: u32,                //   (a transposed convolution's phase; plain convs: 1 and 0)
  row_blocks: u32,                         // segments per output row
  blocks: u32,                             // segments in the batch: n · ho · row_blocks
  oc_blocks: u32,
  tiles: u32,                              // workgroups per channel block
  alpha: f32,                              // leakyRelu slope
  out_scale: f32,
  res_scale: f32,
  slopes: u32,                             // prelu slopes: 1 or o
}

@group(0) @binding(0) var<uniform> p: Conv;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> slope: array<f32>;      // any buffer unless ACT is prelu
@group(0) @binding(5) var<storage, read> residual: array<f32>;   // any buffer unless HAS_RESIDUAL
@group(0) @binding(6) var<storage, read_write> y: array<f32>;

const MAX_NV: u32 = 12u;
const MAX_NWL: u32 = 4u;

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

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let wg = wid.x + wid.y * nwg.x + wid.z * nwg.x * nwg.y;
  if (wg >= p.tiles * p.oc_blocks) {
    return;
  }
  let ocb = wg % p.oc_blocks;
  // Lanes past the last segment keep computing (shuffles need every lane) but store nothing.
  let seg_raw = (wg / p.oc_blocks) * (WG / SG) + lid / SG;
  let live = seg_raw < p.blocks;
  let seg = select(0u, seg_raw, live);
  let per_image = p.ho * p.row_blocks;
  let n = seg / per_image;
  let oh = (seg % per_image) / p.row_blocks;
  let ow0 = (seg % p.row_blocks) * SG * PX;
  let oc0 = ocb * OCV * 4u;
  let hw = p.h * p.w;

  // This lane's weight slots: slot s = kw·OCV + o of the current (channel, kernel row).
  var wslot: array<u32, MAX_NWL>;
  for (var q = 0u; q < NWL; q++) {
    let s = min(lane + q * SG, KW * OCV - 1u);
    wslot[q] = (s / OCV) * p.cin_g * p.opad4 + ocb * OCV + s % OCV;
  }

  var acc: array<vec4<f32>, 8>;
  let col0 = i32(ow0 + lane) - p.pl;
  // First input plane of each of the block's 4 channels (all equal unless GROUPED).
  let first = min(vec4<u32>(oc0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.o - 1u));
  var xc = (vec4<u32>(n * p.c) + (first / p.cout_g) * p.cin_g) * hw;
  var wc = 0u;
  for (var c = 0u; c < p.cin_g; c++) {
    for (var kh = 0u; kh < KH; kh++) {
      let ih = i32(oh * p.sh + kh * p.dh) - p.pt;
      let row_ok = ih >= 0 && ih < i32(p.h);
      let row = xc + vec4<u32>(u32(max(ih, 0)) * p.w);
      var v: array<f32, MAX_NV>;
      var vg: array<vec4<f32>, MAX_NV>;
      for (var m = 0u; m < NV; m++) {
        let col = col0 + i32(m * SG);
        let ok = row_ok && col >= 0 && col < i32(p.w);
        let at = row + vec4<u32>(u32(max(col, 0)));
        if (GROUPED) {
          vg[m] = select(vec4<f32>(0.0), vec4<f32>(x[at.x], x[at.y], x[at.z], x[at.w]), ok);
        } else {
          v[m] = select(0.0, x[at.x], ok);
        }
      }
      var wl: array<vec4<f32>, MAX_NWL>;
      for (var q = 0u; q < NWL; q++) {
        wl[q] = w[wslot[q] + wc + kh * KW * p.cin_g * p.opad4];
      }
      for (var kw = 0u; kw < KW; kw++) {
        var ws: array<vec4<f32>, 4>;
        for (var o = 0u; o < OCV; o++) {
          let s = kw * OCV + o;
          ws[o] = subgroupShuffle(wl[s / SG], s % SG);
        }
        // Pixel l + SG·j reads column l + SG·j + kw·DW: vector j + (l + shift) / SG, lane (l + shift) % SG.
        let shift = kw * DW;
        let q = shift / SG;
        let src = (lane + shift % SG) % SG;
        let high = lane + shift % SG >= SG;
        for (var j = 0u; j < PX; j++) {
          if (GROUPED) {
            var xg = vg[j + q];
            if (shift % SG != 0u) {
              xg = select(subgroupShuffle(vg[j + q], src), subgroupShuffle(vg[j + q + 1u], src), high);
            }
            acc[j] = fma(xg, ws[0], acc[j]);
          } else {
            var xv = v[j + q];
            if (shift % SG != 0u) {
              xv = select(subgroupShuffle(v[j + q], src), subgroupShuffle(v[j + q + 1u], src), high);
            }
            for (var o = 0u; o < OCV; o++) {
              acc[j * OCV + o] = fma(vec4<f32>(xv), ws[o], acc[j * OCV + o]);
            }
          }
        }
      }
    }
    xc += vec4<u32>(hw);
    wc += p.opad4;
  }

  // A trip count that is not a constant keeps the loop rolled: one copy of the epilogue, quick compiles.
  for (var i = 0u; i < select(0u, PX * OCV * 4u, live); i++) {
    let j = i / (OCV * 4u);
    let o = (i / 4u) % OCV;
    let ow = ow0 + lane + j * SG;
    let oc = oc0 + o * 4u + i % 4u;
    if (ow < p.wo && oc < p.o) {
      let at = ((n * p.o + oc) * p.out_h + p.out_oh + oh * p.out_sh) * p.out_w + p.out_ow + ow * p.out_sw;
      y[at] = finish(acc[j * OCV + o][i % 4u], oc, at);
    }
  }
}
