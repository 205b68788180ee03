// What the conv2d kernels share: the uniform struct src/kernels/conv_kernels.ts fills for every one of them
// (a launch's geometry, where its output pixels go, its grid, and the epilogue's values), and the epilogue.
// The kernel names it `p`; each kernel's header says what its grid fields count.
//! import "lib/conv_epilogue.wgsl"

struct Conv {
  n: u32, c: u32, h: u32, w: u32,          // input
  o: u32, ho: u32, wo: u32, opad4: u32,    // output channels and size; packed row length in vec4s
  cin_g: u32, cout_g: u32, kh: u32, kw: u32,
  sh: u32, sw: u32, dh: u32, dw: u32,
  pt: i32, pl: i32,                        // top and left padding (negative crops)
  out_h: u32, out_w: u32,                  // the output tensor's plane; pixel (oh, ow) is stored at
  out_sh: u32, out_sw: u32,                //   row out_oh + oh·out_sh, column out_ow + ow·out_sw
  out_oh: u32, out_ow: u32,                //   (a transposed convolution's phase; plain convs: 1 and 0)
  row_blocks: u32,                         // the grid: see the kernel
  blocks: u32,
  oc_blocks: u32,
  tiles: u32,
  alpha: f32,                              // leakyRelu slope
  out_scale: f32,
  res_scale: f32,
  slopes: u32,                             // prelu slopes: 1 or o
}
