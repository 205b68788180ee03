// The one data-movement kernel behind permute, concat, narrow/slice/chunk and the pixel shuffles:
// for every index c of `shape`,
//   dst[dst_offset + c · dst_strides] = src[src_offset + c · src_strides].
// Gathers (permute) pass contiguous dst strides; concat passes contiguous src strides and the output's strides.
// Data moves as 32-bit words, so f32 and i32 tensors share the pipelines.
//
// The last dim is the row. Each invocation copies up to PER_THREAD consecutive elements of one row: it
// finds the row's offsets once (RANK − 1 divisions) and then only adds the row strides. RANK is an override
// so the dim loop unrolls and the uniform arrays are indexed by constants; indexing them dynamically made
// this kernel ~10× slower on lavapipe and SwiftShader. Long runs per invocation are what those CPU drivers
// are fast at: on 1M-element copies, 64 per invocation ran ~1.5-2× faster than 16 and ~15× faster than
// decomposing every element.
//! import "lib/grid.wgsl"

override WORKGROUP: u32 = 64u;
override RANK: u32 = 1u;          // dims after merging, 1..8
override PER_THREAD: u32 = 64u;   // row elements per invocation

struct Params {
  rows: u32,                       // product of all dims but the last
  row_blocks: u32,                 // ceil(row length / PER_THREAD): invocations per row
  src_offset: u32,                 // in elements
  dst_offset: u32,
  shape: array<vec4<u32>, 2>,      // outermost first
  src_strides: array<vec4<u32>, 2>,
  dst_strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

@compute @workgroup_size(WORKGROUP)
fn main(grid: Grid, @builtin(local_invocation_id) lid: vec3<u32>) {
  let thread = invocation_index(grid, lid.x, WORKGROUP);
  var row = thread / params.row_blocks;
  if (row >= params.rows) {
    return;
  }
  let last = RANK - 1u;
  let row_length = params.shape[last / 4u][last % 4u];
  let src_step = params.src_strides[last / 4u][last % 4u];
  let dst_step = params.dst_strides[last / 4u][last % 4u];
  let start = (thread % params.row_blocks) * PER_THREAD;
  var s = params.src_offset + start * src_step;
  var d = params.dst_offset + start * dst_step;
  for (var k = 1u; k < RANK; k++) {
    let j = last - k;
    let size = params.shape[j / 4u][j % 4u];
    let c = row % size;
    row = row / size;
    s += c * params.src_strides[j / 4u][j % 4u];
    d += c * params.dst_strides[j / 4u][j % 4u];
  }
  let count = min(PER_THREAD, row_length - start);
  for (var e = 0u; e < count; e++) {
    dst[d] = src[s];
    s += src_step;
    d += dst_step;
  }
}
