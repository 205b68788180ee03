/**
 * Resampling references on NCHW tensors: torch.nn.functional.interpolate (nearest, nearest-exact, bilinear),
 * pixel_shuffle / pixel_unshuffle, and TensorFlow-order depth_to_space / space_to_depth.
 *
 * interpolate reproduces PyTorch's CPU kernels (aten/src/ATen/native/UpSample.h) including their float32
 * index arithmetic, so the chosen source pixels and bilinear weights match torch bit-for-bit:
 *  - scale per axis: 1/scale_factor (as float32) when scaleFactor is given and recomputeScaleFactor is not
 *    true, else in/out (float32 division); align_corners=True uses (in−1)/(out−1) (0 when out == 1);
 *  - nearest: src = min(floor(f32(dst·scale)), in−1), with torch's CPU shortcuts out == in → src = dst and
 *    out == 2·in → src = dst >> 1;
 *  - nearest-exact: src = min(floor(f32((dst + 0.5)·scale)), in−1);
 *  - bilinear: src = max(0, scale·(dst + 0.5) − 0.5) (align_corners=False) or scale·dst (True), computed in
 *    float32; i0 = min(floor(src), in−1), i1 = i0 + (i0 < in−1), λ1 = clamp(src − i0, 0, 1), λ0 = 1 − λ1;
 *    out == in copies.
 * Note: the out == in / out == 2·in shortcuts are CPU-only; CUDA torch always uses the formula.
 */
import { type CpuTensor, checkRank, checkTensor, numel, pair, shapeStr } from './tensor';

const f32 = Math.fround;

/** Options of {@link interpolate}, mirroring torch.nn.functional.interpolate's keyword arguments. */
export interface InterpolateOptions {
  /** Output size, a number or [H, W]; exactly one of size / scaleFactor. */
  size?: number | readonly number[];
  /** Multiplier, a number or [for H, for W]; output size is floor(in · scaleFactor). */
  scaleFactor?: number | readonly number[];
  /** 'nearest' (torch default), 'nearest-exact' or 'bilinear'. */
  mode?: 'nearest' | 'nearest-exact' | 'bilinear';
  /** Only for 'bilinear' (default false); torch rejects it (even false) for nearest modes, and so do we. */
  alignCorners?: boolean;
  /** torch's recompute_scale_factor: when true, scales are recomputed as in/out from the output size. */
  recomputeScaleFactor?: boolean;
}

/** f32 scale used for index mapping, like torch's compute_scales_value<float>. */
function computeScale(inSize: number, outSize: number, scale: number | undefined): number {
  return scale !== undefined && scale > 0 ? f32(1 / scale) : f32(inSize / outSize);
}

function nearestIndexTable(inSize: number, outSize: number, scale: number | undefined, exact: boolean): Int32Array {
  const t = new Int32Array(outSize);
  const s = computeScale(inSize, outSize, scale);
  for (let o = 0; o < outSize; o++) {
    if (exact) {
      t[o] = Math.min(Math.floor(f32((o + 0.5) * s)), inSize - 1);
    } else if (outSize === inSize) {
      t[o] = o;
    } else if (outSize === 2 * inSize) {
      t[o] = o >> 1;
    } else {
      t[o] = Math.min(Math.floor(f32(o * s)), inSize - 1);
    }
  }
  return t;
}

interface LinearTable {
  i0: Int32Array;
  i1: Int32Array;
  l0: Float64Array;
  l1: Float64Array;
}

function linearTable(inSize: number, outSize: number, alignCorners: boolean, scale: number | undefined): LinearTable {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const l0 = new Float64Array(outSize);
  const l1 = new Float64Array(outSize);
  // area_pixel_compute_scale<float>
  let ratio: number;
  if (alignCorners) ratio = outSize > 1 ? f32((inSize - 1) / (outSize - 1)) : 0;
  else ratio = computeScale(inSize, outSize, scale);
  for (let o = 0; o < outSize; o++) {
    if (outSize === inSize) {
      i0[o] = o;
      i1[o] = o;
      l0[o] = 1;
      l1[o] = 0;
      continue;
    }
    // area_pixel_compute_source_index<float>
    let src: number;
    if (alignCorners) src = f32(ratio * o);
    else {
      src = f32(f32(ratio * (o + 0.5)) - 0.5);
      if (src < 0) src = 0;
    }
    const idx = Math.min(Math.floor(src), inSize - 1);
    const lambda1 = Math.min(Math.max(f32(src - idx), 0), 1);
    i0[o] = idx;
    i1[o] = idx + (idx < inSize - 1 ? 1 : 0);
    l1[o] = lambda1;
    l0[o] = f32(1 - lambda1);
  }
  return { i0, i1, l0, l1 };
}

function checkPositiveInt(v: number, what: string, shape: readonly number[]): void {
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${what}: got ${v} for input shape ${shapeStr(shape)}`);
}

/**
 * torch.nn.functional.interpolate(x, size, scale_factor, mode, align_corners, recompute_scale_factor) for
 * a 4-D NCHW input and modes nearest / nearest-exact / bilinear (antialias=False). See the module comment
 * for the exact index formulas. (N, C, H, W) -> (N, C, H_out, W_out).
 */
export function interpolate(x: CpuTensor, options: InterpolateOptions): CpuTensor {
  checkRank(x, 4, 'interpolate', '(N, C, H, W)');
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const mode = options.mode ?? 'nearest';
  if (mode !== 'nearest' && mode !== 'nearest-exact' && mode !== 'bilinear') {
    throw new Error(`interpolate: unsupported mode '${String(mode)}'`);
  }
  if (mode !== 'bilinear' && options.alignCorners !== undefined) {
    throw new Error(`interpolate: alignCorners can only be set with mode 'bilinear' (got mode '${mode}')`);
  }
  const hasSize = options.size !== undefined;
  const hasScale = options.scaleFactor !== undefined;
  if (hasSize === hasScale) throw new Error(`interpolate: exactly one of size or scaleFactor must be given (input ${shapeStr(x.shape)})`);

  let Ho: number;
  let Wo: number;
  let sh: number | undefined;
  let sw: number | undefined;
  if (hasSize) {
    [Ho, Wo] = pair(options.size!, 'interpolate size');
    checkPositiveInt(Ho, 'interpolate: output height must be a positive integer', x.shape);
    checkPositiveInt(Wo, 'interpolate: output width must be a positive integer', x.shape);
  } else {
    const [fh, fw] = pair(options.scaleFactor!, 'interpolate scaleFactor');
    if (!(fh > 0) || !(fw > 0) || !Number.isFinite(fh) || !Number.isFinite(fw)) {
      throw new Error(`interpolate: scaleFactor must be positive and finite, got [${fh}, ${fw}] (input ${shapeStr(x.shape)})`);
    }
    Ho = Math.floor(H * fh);
    Wo = Math.floor(W * fw);
    if (Ho <= 0 || Wo <= 0) throw new Error(`interpolate: scaleFactor [${fh}, ${fw}] gives empty output ${Ho}x${Wo} for input ${shapeStr(x.shape)}`);
    if (!options.recomputeScaleFactor) {
      sh = fh;
      sw = fw;
    }
  }
  if (H <= 0 || W <= 0) throw new Error(`interpolate: input spatial size must be positive, got shape ${shapeStr(x.shape)}`);

  const src = x.data;
  const out = new Float32Array(N * C * Ho * Wo);
  const planes = N * C;
  if (mode === 'bilinear') {
    const ac = options.alignCorners ?? false;
    const th = linearTable(H, Ho, ac, sh);
    const tw = linearTable(W, Wo, ac, sw);
    for (let p = 0; p < planes; p++) {
      const ib = p * H * W;
      const ob = p * Ho * Wo;
      for (let oh = 0; oh < Ho; oh++) {
        const r0 = ib + th.i0[oh]! * W;
        const r1 = ib + th.i1[oh]! * W;
        const h0 = th.l0[oh]!;
        const h1 = th.l1[oh]!;
        for (let ow = 0; ow < Wo; ow++) {
          const c0 = tw.i0[ow]!;
          const c1 = tw.i1[ow]!;
          const w0 = tw.l0[ow]!;
          const w1 = tw.l1[ow]!;
          out[ob + oh * Wo + ow] = h0 * (w0 * src[r0 + c0]! + w1 * src[r0 + c1]!) + h1 * (w0 * src[r1 + c0]! + w1 * src[r1 + c1]!);
        }
      }
    }
  } else {
    const exact = mode === 'nearest-exact';
    const th = nearestIndexTable(H, Ho, sh, exact);
    const tw = nearestIndexTable(W, Wo, sw, exact);
    for (let p = 0; p < planes; p++) {
      const ib = p * H * W;
      const ob = p * Ho * Wo;
      for (let oh = 0; oh < Ho; oh++) {
        const r = ib + th[oh]! * W;
        for (let ow = 0; ow < Wo; ow++) out[ob + oh * Wo + ow] = src[r + tw[ow]!]!;
      }
    }
  }
  return { data: out, shape: [N, C, Ho, Wo] };
}

function checkFactor(r: number, what: string, shape: readonly number[]): void {
  if (!Number.isInteger(r) || r <= 0) throw new Error(`${what}: factor must be a positive integer, got ${r} (input ${shapeStr(shape)})`);
}

/**
 * Rearranges (*, C·r², H, W) -> (*, C, H·r, W·r) with out[…, c, h·r+i, w·r+j] = in[…, c·r² + i·r + j, h, w]
 * (torch.nn.functional.pixel_shuffle). Needs rank >= 3.
 */
export function pixelShuffle(x: CpuTensor, r: number): CpuTensor {
  checkTensor(x, 'pixelShuffle');
  if (x.shape.length < 3) throw new Error(`pixelShuffle: expected at least 3 dims (*, C, H, W), got shape ${shapeStr(x.shape)}`);
  checkFactor(r, 'pixelShuffle', x.shape);
  const rank = x.shape.length;
  const [Cin, H, W] = x.shape.slice(rank - 3) as [number, number, number];
  if (Cin % (r * r) !== 0) throw new Error(`pixelShuffle: channels ${Cin} not divisible by r²=${r * r} (input ${shapeStr(x.shape)})`);
  const C = Cin / (r * r);
  const batch = numel(x.shape.slice(0, rank - 3));
  const Ho = H * r;
  const Wo = W * r;
  const out = new Float32Array(x.data.length);
  const src = x.data;
  for (let b = 0; b < batch; b++) {
    const base = b * Cin * H * W;
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < r; i++) {
        for (let j = 0; j < r; j++) {
          const ic = c * r * r + i * r + j;
          const ip = base + ic * H * W;
          const op = base + c * Ho * Wo;
          for (let h = 0; h < H; h++) {
            for (let w = 0; w < W; w++) out[op + (h * r + i) * Wo + (w * r + j)] = src[ip + h * W + w]!;
          }
        }
      }
    }
  }
  return { data: out, shape: [...x.shape.slice(0, rank - 3), C, Ho, Wo] };
}

/**
 * Inverse of pixelShuffle: (*, C, H·r, W·r) -> (*, C·r², H, W) with out[…, c·r² + i·r + j, h, w] =
 * in[…, c, h·r+i, w·r+j] (torch.nn.functional.pixel_unshuffle).
 */
export function pixelUnshuffle(x: CpuTensor, r: number): CpuTensor {
  checkTensor(x, 'pixelUnshuffle');
  if (x.shape.length < 3) throw new Error(`pixelUnshuffle: expected at least 3 dims (*, C, H, W), got shape ${shapeStr(x.shape)}`);
  checkFactor(r, 'pixelUnshuffle', x.shape);
  const rank = x.shape.length;
  const [C, Hi, Wi] = x.shape.slice(rank - 3) as [number, number, number];
  if (Hi % r !== 0 || Wi % r !== 0) throw new Error(`pixelUnshuffle: spatial size ${Hi}x${Wi} not divisible by ${r} (input ${shapeStr(x.shape)})`);
  const H = Hi / r;
  const W = Wi / r;
  const Co = C * r * r;
  const per = C * Hi * Wi;
  const batch = numel(x.shape.slice(0, rank - 3));
  const out = new Float32Array(x.data.length);
  const src = x.data;
  for (let b = 0; b < batch; b++) {
    const base = b * per;
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < r; i++) {
        for (let j = 0; j < r; j++) {
          const oc = c * r * r + i * r + j;
          const op = base + oc * H * W;
          const ip = base + c * Hi * Wi;
          for (let h = 0; h < H; h++) {
            for (let w = 0; w < W; w++) out[op + h * W + w] = src[ip + (h * r + i) * Wi + (w * r + j)]!;
          }
        }
      }
    }
  }
  return { data: out, shape: [...x.shape.slice(0, rank - 3), Co, H, W] };
}

/**
 * TensorFlow's tf.nn.depth_to_space channel order applied to an NCHW tensor: (N, C·b², H, W) -> (N, C, H·b, W·b)
 * with out[n, c, h·b+i, w·b+j] = in[n, (i·b + j)·C + c, h, w]. (Equivalent to NHWC depth_to_space on the
 * transposed tensor; differs from pixelShuffle, which uses in channel c·b² + i·b + j.)
 */
export function depthToSpace(x: CpuTensor, blockSize: number): CpuTensor {
  checkRank(x, 4, 'depthToSpace', '(N, C, H, W)');
  checkFactor(blockSize, 'depthToSpace', x.shape);
  const b = blockSize;
  const [N, Cin, H, W] = x.shape as [number, number, number, number];
  if (Cin % (b * b) !== 0) throw new Error(`depthToSpace: channels ${Cin} not divisible by blockSize²=${b * b} (input ${shapeStr(x.shape)})`);
  const C = Cin / (b * b);
  const Ho = H * b;
  const Wo = W * b;
  const out = new Float32Array(x.data.length);
  const src = x.data;
  for (let n = 0; n < N; n++) {
    for (let i = 0; i < b; i++) {
      for (let j = 0; j < b; j++) {
        for (let c = 0; c < C; c++) {
          const ip = (n * Cin + (i * b + j) * C + c) * H * W;
          const op = (n * C + c) * Ho * Wo;
          for (let h = 0; h < H; h++) {
            for (let w = 0; w < W; w++) out[op + (h * b + i) * Wo + (w * b + j)] = src[ip + h * W + w]!;
          }
        }
      }
    }
  }
  return { data: out, shape: [N, C, Ho, Wo] };
}

/** Inverse of {@link depthToSpace} (tf.nn.space_to_depth order on NCHW): (N, C, H·b, W·b) -> (N, C·b², H, W). */
export function spaceToDepth(x: CpuTensor, blockSize: number): CpuTensor {
  checkRank(x, 4, 'spaceToDepth', '(N, C, H, W)');
  checkFactor(blockSize, 'spaceToDepth', x.shape);
  const b = blockSize;
  const [N, C, Hi, Wi] = x.shape as [number, number, number, number];
  if (Hi % b !== 0 || Wi % b !== 0) throw new Error(`spaceToDepth: spatial size ${Hi}x${Wi} not divisible by ${b} (input ${shapeStr(x.shape)})`);
  const H = Hi / b;
  const W = Wi / b;
  const Co = C * b * b;
  const out = new Float32Array(x.data.length);
  const src = x.data;
  for (let n = 0; n < N; n++) {
    for (let i = 0; i < b; i++) {
      for (let j = 0; j < b; j++) {
        for (let c = 0; c < C; c++) {
          const op = (n * Co + (i * b + j) * C + c) * H * W;
          const ip = (n * C + c) * Hi * Wi;
          for (let h = 0; h < H; h++) {
            for (let w = 0; w < W; w++) out[op + h * W + w] = src[ip + (h * b + i) * Wi + (w * b + j)]!;
          }
        }
      }
    }
  }
  return { data: out, shape: [N, Co, H, W] };
}
