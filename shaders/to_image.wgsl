// Writes one image of an NCHW tensor into a host app's storage texture (rgba8unorm or rgba16float), mapping
// the model's value range to [0, 1]: out = in * scale + offset. 1 channel → gray, 3 → RGB with alpha 1, 4 → RGBA.
// One invocation per pixel, linear over the image.
//! import "lib/grid.wgsl"

const WORKGROUP: u32 = 64u;

struct Params {
  channels: u32,
  height: u32,
  width: u32,
  batch_offset: u32,   // elements before the chosen image
  scale: f32,
  offset: f32,
  origin: vec2<u32>,   // where the image's top-left pixel lands in the texture
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var out_rgba8: texture_storage_2d<rgba8unorm, write>;
@group(0) @binding(3) var out_rgba16: texture_storage_2d<rgba16float, write>;

fn pixel(p: vec2<u32>) -> vec4<f32> {
  let plane = params.height * params.width;
  let base = params.batch_offset + p.y * params.width + p.x;
  var c = vec4<f32>(0.0, 0.0, 0.0, 1.0);
  if (params.channels == 1u) {
    let v = x[base] * params.scale + params.offset;
    c = vec4<f32>(v, v, v, 1.0);
  } else {
    c.r = x[base] * params.scale + params.offset;
    c.g = x[base + plane] * params.scale + params.offset;
    c.b = x[base + 2u * plane] * params.scale + params.offset;
    if (params.channels == 4u) {
      c.a = x[base + 3u * plane] * params.scale + params.offset;
    }
  }
  return clamp(c, vec4<f32>(0.0), vec4<f32>(1.0));
}

fn pixel_of(grid: Grid, lid: u32) -> vec2<u32> {
  let i = invocation_index(grid, lid, WORKGROUP);
  return vec2<u32>(i % params.width, i / params.width);
}

@compute @workgroup_size(WORKGROUP)
fn write_rgba8(grid: Grid, @builtin(local_invocation_id) lid: vec3<u32>) {
  let p = pixel_of(grid, lid.x);
  if (p.y >= params.height) {
    return;
  }
  textureStore(out_rgba8, p + params.origin, pixel(p));
}

@compute @workgroup_size(WORKGROUP)
fn write_rgba16float(grid: Grid, @builtin(local_invocation_id) lid: vec3<u32>) {
  let p = pixel_of(grid, lid.x);
  if (p.y >= params.height) {
    return;
  }
  textureStore(out_rgba16, p + params.origin, pixel(p));
}
