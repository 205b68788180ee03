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
// Epilogue (lib/conv_epilogue.wgsl), in this order: + bias, activation, · out_scale, + res_scale · residual.
// Grid (Conv): row_blocks segments per output row, blocks = n · ho · row_blocks in the batch, oc_blocks
// channel blocks, tiles workgroups per channel block.
enable subgroups;
//! import "lib/grid.wgsl"
//! import "lib/conv.wgsl"

override WG: u32 = 64u;              // a multiple of SG
override SG: u32 = 8u;
override PX: u32 = 4u;               // pixels per lane, <= 4
override OCV: u32 = 2u;              // vec4s of output channels, <= 4; PX·OCV <= 8
override KH: u32 = 3u;
override KW: u32 = 3u;
override DW: u32 = 1u;               // horizontal dilation
override GROUPED: bool = false;

// Input vectors per row: PX plus those the widest tap shift reaches into.
override NV: u32 = PX + ((KW - 1u) * DW + SG - 1u) / SG;     // <= MAX_NV
// Weight vec4 slots per kernel row, spread over the lanes.
override NWL: u32 = (KW * OCV + SG - 1u) / SG;        // <= MAX_NWL

@group(0) @binding(0) var<uniform> p: Conv;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> slope: array<f32>;      // any buffer unless ACT is prelu
@group(0) @binding(5) var<storage, read> residual: array<f32>;   // any buffer unless HAS_RESIDUAL
@group(0) @binding(6) var<storage, read_write> y: array<f32>;

const MAX_NV: u32 = 12u;
const MAX_NWL: u32 = 4u;

@compute @workgroup_size(WG)
fn main(grid: Grid, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let wg = workgroup_index(grid);
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
