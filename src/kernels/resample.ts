/**
 * `F.interpolate` for NCHW tensors: nearest, nearest-exact and bilinear, one shader specialised by MODE.
 * The per-axis scale is computed here exactly as torch does (in f32), so the shader's index arithmetic picks
 * the same source pixels as PyTorch's CPU kernels.
 */
import resampleCode from '../../shaders/resample.wgsl?raw';
import { ShapeError } from '../errors';
import type { Runtime } from '../gpu/runtime';
import { shader } from '../gpu/shader';
import { formatShape } from '../tensor/shape';
import type { Tensor } from '../tensor/tensor';
import { expectF32, expectSameEngine, linearWorkgroups, output } from './common';

const RESAMPLE = shader('resample.wgsl', resampleCode);

/** MODE codes of resample.wgsl. */
const MODES = { nearest: 0, 'nearest-exact': 1, bilinear: 2 } as const;
export type InterpolateMode = keyof typeof MODES;

/** Outputs per invocation in resample.wgsl (consecutive pixels of a row). */
const PER_THREAD = 64;

/** The keyword arguments of `torch.nn.functional.interpolate`. */
export interface InterpolateOptions {
  /** Output (H, W); give exactly one of size and scaleFactor. */
  size?: number | readonly [number, number];
  /** Multiplier for (H, W); the output is floor(in · scaleFactor). */
  scaleFactor?: number | readonly [number, number];
  /** Default 'nearest', as in torch. */
  mode?: InterpolateMode;
  /** Bilinear only (default false); like torch, setting it at all with a nearest mode is an error. */
  alignCorners?: boolean;
  /** When true, the sampling uses in/out from the computed size instead of 1/scaleFactor. */
  recomputeScaleFactor?: boolean;
}

function pair(op: string, name: string, v: number | readonly number[]): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (v.length !== 2) throw new ShapeError(`${op}: ${name} must be a number or 2 values (H, W) for a 4-D input, got ${formatShape(v)}`);
  return [v[0]!, v[1]!];
}

/** torch's compute_scales_value<float>: 1/scale when a scale factor drives the sampling, else in/out. */
function samplingScale(inSize: number, outSize: number, factor: number | undefined): number {
  return factor !== undefined ? Math.fround(1 / factor) : Math.fround(inSize / outSize);
}

/** torch's area_pixel_compute_scale<float>. */
function linearScale(inSize: number, outSize: number, alignCorners: boolean, factor: number | undefined): number {
  if (alignCorners) return outSize > 1 ? Math.fround((inSize - 1) / (outSize - 1)) : 0;
  return samplingScale(inSize, outSize, factor);
}

/**
 * `torch.nn.functional.interpolate(input, size, scale_factor, mode, align_corners, recompute_scale_factor)`
 * for a 4-D input: (N, C, H, W) -> (N, C, OH, OW).
 */
export function interpolate(rt: Runtime, input: Tensor, options: InterpolateOptions): Tensor {
  const op = 'interpolate';
  expectSameEngine(rt, op, input);
  expectF32(op, { name: 'input', tensor: input });
  const mode = options.mode ?? 'nearest';
  if (!Object.hasOwn(MODES, mode)) throw new ShapeError(`${op}: mode must be one of ${Object.keys(MODES).join(', ')}, got '${String(mode)}'`);
  if (mode !== 'bilinear' && options.alignCorners !== undefined) {
    throw new ShapeError(`${op}: alignCorners can only be set with mode 'bilinear', not '${mode}'`);
  }
  if (input.rank !== 4) throw new ShapeError(`${op}: input must be 4-D (N, C, H, W), got ${formatShape(input.shape)}`);
  const [n, c, h, w] = input.shape as [number, number, number, number];
  const hasSize = options.size !== undefined;
  const hasFactor = options.scaleFactor !== undefined;
  if (hasSize && hasFactor) throw new ShapeError(`${op}: give only one of size and scaleFactor`);
  if (!hasSize && !hasFactor) throw new ShapeError(`${op}: give either size or scaleFactor`);

  let oh: number;
  let ow: number;
  let factors: [number, number] | [undefined, undefined] = [undefined, undefined];
  if (hasSize) {
    if (options.recomputeScaleFactor) throw new ShapeError(`${op}: recomputeScaleFactor is not meaningful with an explicit size`);
    [oh, ow] = pair(op, 'size', options.size!);
    if (!Number.isInteger(oh) || !Number.isInteger(ow)) throw new ShapeError(`${op}: size must hold integers, got [${oh}, ${ow}]`);
  } else {
    const [fh, fw] = pair(op, 'scaleFactor', options.scaleFactor!);
    if (!(fh > 0 && fw > 0 && Number.isFinite(fh) && Number.isFinite(fw))) {
      throw new ShapeError(`${op}: scaleFactor must be positive and finite, got [${fh}, ${fw}]`);
    }
    oh = Math.floor(h * fh);
    ow = Math.floor(w * fw);
    if (!options.recomputeScaleFactor) factors = [fh, fw];
  }
  if (!(h > 0 && w > 0 && oh > 0 && ow > 0)) {
    throw new ShapeError(`${op}: input and output sizes must be greater than 0, got input ${formatShape(input.shape)} and output (${oh}, ${ow})`);
  }

  const alignCorners = options.alignCorners ?? false;
  const scale = (inSize: number, outSize: number, factor: number | undefined) =>
    mode === 'bilinear' ? linearScale(inSize, outSize, alignCorners, factor) : samplingScale(inSize, outSize, factor);
  const out = output(rt, [n, c, oh, ow]);
  const rows = n * c * oh;
  const rowBlocks = Math.ceil(ow / PER_THREAD);
  if (rows === 0) return out;
  rt.dispatch({
    shader: RESAMPLE,
    overrides: { MODE: MODES[mode], ALIGN_CORNERS: alignCorners, PER_THREAD },
    uniforms: {
      rows,
      row_blocks: rowBlocks,
      in_h: h,
      in_w: w,
      out_h: oh,
      out_w: ow,
      scale_h: scale(h, oh, factors[0]),
      scale_w: scale(w, ow, factors[1]),
    },
    bindings: { x: input.buffer, y: out.buffer },
    workgroups: linearWorkgroups(rows * rowBlocks, 1),
    label: `${op}:${mode}`,
  });
  return out;
}
