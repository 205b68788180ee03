// The host app's own drawing: one textured quad, centred, square, with a margin, over a cleared background.
// The texture is the one synthe wrote the generated digit into.

struct VertexOut {
  @builtin(position) position: vec4<f32>,
  @location(0) uv: vec2<f32>,
}

@group(0) @binding(0) var digit: texture_2d<f32>;
@group(0) @binding(1) var nearest: sampler;

@vertex
fn vertex_main(@builtin(vertex_index) index: u32) -> VertexOut {
  // Two triangles: (0, 1, 2) and (2, 1, 3) over the unit square.
  let corners = array<vec2<f32>, 4>(vec2(0.0, 0.0), vec2(1.0, 0.0), vec2(0.0, 1.0), vec2(1.0, 1.0));
  let order = array<u32, 6>(0u, 1u, 2u, 2u, 1u, 3u);
  let uv = corners[order[index]];
  var out: VertexOut;
  out.position = vec4<f32>((uv.x * 2.0 - 1.0) * 0.8, (1.0 - uv.y * 2.0) * 0.8, 0.0, 1.0);
  out.uv = uv;
  return out;
}

@fragment
fn fragment_main(in: VertexOut) -> @location(0) vec4<f32> {
  let ink = textureSample(digit, nearest, in.uv).rgb;
  // White strokes on black become warm ink on a paper tile, to show the host owns the final look.
  let paper = vec3<f32>(0.96, 0.93, 0.86);
  let color = mix(paper, vec3<f32>(0.75, 0.2, 0.1), ink.r);
  return vec4<f32>(color, 1.0);
}
