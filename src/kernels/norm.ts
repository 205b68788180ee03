/**
 * Normalization: groupNorm, layerNorm, instanceNorm and batchNorm (inference) as in torch.nn.functional, plus
 * `foldBatchNorm`, which folds an inference batch norm into the convolution before it on the CPU at load
 * time. The three input-statistics norms run two passes of shaders/norm.wgsl: per-segment statistics (a
 * shifted Welford/Chan merge in f32), then one elementwise apply with the affine transform, an optional SiLU
 * and an optional residual add fused in.
 */
import normCode from '../../shaders/norm.wgsl?raw';
import { ShapeError } from '../errors';
import type { Runtime } from '../gpu/runtime';
import { shader } from '../gpu/shader';
import { formatShape, numel } from '../tensor/shape';
import type { Tensor } from '../tensor/tensor';
import { ELEMENTS_PER_THREAD, LINEAR_WORKGROUP, expectF32, expectFinite, expectSameEngine, expectSameShape, linearWorkgroups, output } from './common';

const NORM = shader('norm.wgsl', normCode);

/** Activation fused after the affine transform. */
export type NormActivation = 'none' | 'silu';
const ACTIVATIONS = { none: 0, silu: 1 } as const;

/** How segment statistics are gathered: a workgroup per segment, or an invocation per segment. */
export type NormStatsVariant = 'group' | 'row';

/** Options shared by the input-statistics norms. */
export interface NormOptions {
  /** Applied after the affine transform (diffusers' ResnetBlock runs norm then SiLU). Default `'none'`. */
  activation?: NormActivation;
  /** Added last, after the activation; same shape as the input. */
  residual?: Tensor | null;
  /** Force a statistics kernel; default {@link defaultStatsVariant}. */
  variant?: NormStatsVariant;
}

/**
 * Many short segments (layer norm over tokens) go one per invocation, with no barriers; few long ones
 * (group norm over an image) get a workgroup each so the work spreads over the device.
 */
export function defaultStatsVariant(segments: number, len: number): NormStatsVariant {
  return segments >= 512 && len <= 8192 ? 'row' : 'group';
}

/** (segments) vec4 statistics of `len`-element consecutive segments of x. */
function segmentStats(rt: Runtime, x: Tensor, segments: number, len: number, eps: number, variant: NormStatsVariant, label: string): Tensor {
  const stats = output(rt, [segments, 4]);
  rt.dispatch({
    shader: NORM,
    entry: variant === 'row' ? 'stats_row' : 'stats_group',
    uniforms: { segments, len, eps },
    bindings: { x: x.buffer, stats_out: stats.buffer },
    workgroups: variant === 'row' ? Math.ceil(segments / LINEAR_WORKGROUP) : segments,
    label: `${label}:stats`,
  });
  return stats;
}

interface ApplyArgs {
  /** Element i uses statistics (i / statInner) % statCount and affine index (i / affInner) % affCount. */
  statInner: number;
  statCount: number;
  affInner: number;
  affCount: number;
  weight: Tensor | null;
  bias: Tensor | null;
  options: NormOptions;
}

function applyNorm(rt: Runtime, x: Tensor, stats: Tensor, a: ApplyArgs, label: string): Tensor {
  const residual = a.options.residual ?? null;
  const activation = a.options.activation ?? 'none';
  if (!(activation in ACTIVATIONS)) throw new ShapeError(`${label}: activation must be 'none' or 'silu', got '${String(activation)}'`);
  if (residual) {
    expectSameEngine(rt, label, residual);
    expectF32(label, { name: 'residual', tensor: residual });
    expectSameShape(label, residual.shape, x.shape, 'residual and input');
  }
  const y = output(rt, x.shape);
  const vec4 = x.size % 4 === 0 && a.statInner % 4 === 0 && (a.affInner % 4 === 0 || (a.affInner === 1 && a.affCount % 4 === 0));
  const res = (residual ?? x).buffer;
  rt.dispatch({
    shader: NORM,
    entry: vec4 ? 'apply_vec4' : 'apply',
    overrides: { AFFINE_W: a.weight !== null, AFFINE_B: a.bias !== null, ACT: ACTIVATIONS[activation], RESIDUAL: residual !== null },
    uniforms: { n: x.size, stat_inner: a.statInner, stat_count: a.statCount, aff_inner: a.affInner, aff_count: a.affCount },
    // Unused bindings still need a buffer.
    bindings: {
      stats: stats.buffer,
      weight: (a.weight ?? x).buffer,
      bias: (a.bias ?? x).buffer,
      ...(vec4 ? { x4: x.buffer, residual4: res, y4: y.buffer } : { x: x.buffer, residual: res, y: y.buffer }),
    },
    workgroups: linearWorkgroups(x.size, vec4 ? 16 : ELEMENTS_PER_THREAD),
    label,
  });
  return y;
}

/** Checks an optional per-channel parameter of `size` values. */
function expectParam(rt: Runtime, label: string, name: string, p: Tensor | null | undefined, shape: readonly number[], input: Tensor): Tensor | null {
  if (!p) return null;
  expectSameEngine(rt, label, p);
  expectF32(label, { name, tensor: p });
  if (p.rank !== shape.length || p.shape.some((d, i) => d !== shape[i])) {
    throw new ShapeError(`${label}: ${name} ${formatShape(p.shape)} must be ${formatShape(shape)} for input ${formatShape(input.shape)}`);
  }
  return p;
}

function expectInput(rt: Runtime, label: string, input: Tensor, eps: number, minRank: number, layout: string): void {
  expectSameEngine(rt, label, input);
  expectF32(label, { name: 'input', tensor: input });
  expectFinite(label, 'eps', eps);
  if (input.rank < minRank) throw new ShapeError(`${label}: input must be ${layout}, got ${formatShape(input.shape)}`);
}

/** Statistics over `segments` segments of `len`, then the apply: the shape of every input-statistics norm. */
function normalize(rt: Runtime, input: Tensor, segments: number, len: number, eps: number, apply: Omit<ApplyArgs, 'statInner' | 'statCount'>, label: string): Tensor {
  if (input.size === 0) return output(rt, input.shape);
  const stats = segmentStats(rt, input, segments, len, eps, apply.options.variant ?? defaultStatsVariant(segments, len), label);
  try {
    return applyNorm(rt, input, stats, { ...apply, statInner: len, statCount: segments }, label);
  } finally {
    stats.dispose();
  }
}

/**
 * `F.group_norm(input, num_groups, weight, bias, eps)`, then optionally SiLU and a residual add:
 * input (N, C, *) -> same shape; weight, bias (C).
 */
export function groupNorm(
  rt: Runtime, input: Tensor, numGroups: number, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5, options: NormOptions = {},
): Tensor {
  const label = 'groupNorm';
  expectInput(rt, label, input, eps, 2, '(N, C, *)');
  const [N, C] = input.shape as [number, number];
  if (!Number.isInteger(numGroups) || numGroups < 1 || C % numGroups !== 0) {
    throw new ShapeError(`${label}: channels ${C} of input ${formatShape(input.shape)} are not divisible into numGroups=${numGroups}`);
  }
  const inner = numel(input.shape.slice(2));
  return normalize(rt, input, N * numGroups, (C / numGroups) * inner, eps, {
    affInner: inner,
    affCount: C,
    weight: expectParam(rt, label, 'weight', weight, [C], input),
    bias: expectParam(rt, label, 'bias', bias, [C], input),
    options,
  }, label);
}

/**
 * `F.layer_norm(input, normalized_shape, weight, bias, eps)`: normalizes over the trailing dims equal to
 * normalizedShape; weight and bias have shape normalizedShape.
 */
export function layerNorm(
  rt: Runtime, input: Tensor, normalizedShape: number | readonly number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5, options: NormOptions = {},
): Tensor {
  const label = 'layerNorm';
  const shape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
  expectInput(rt, label, input, eps, Math.max(1, shape.length), `(…, ${shape.join(', ')})`);
  const trailing = input.shape.slice(input.rank - shape.length);
  if (shape.length === 0 || trailing.some((d, i) => d !== shape[i])) {
    throw new ShapeError(`${label}: input ${formatShape(input.shape)} does not end in normalizedShape ${formatShape(shape)}`);
  }
  const len = numel(shape);
  return normalize(rt, input, len === 0 ? 0 : input.size / len, len, eps, {
    affInner: 1,
    affCount: len,
    weight: expectParam(rt, label, 'weight', weight, shape, input),
    bias: expectParam(rt, label, 'bias', bias, shape, input),
    options,
  }, label);
}

/**
 * `F.instance_norm(input, weight=, bias=, eps=)` with input statistics: each (n, c) plane of (N, C, *) is
 * normalized over its positions (more than one, as torch requires). weight, bias (C).
 */
export function instanceNorm(rt: Runtime, input: Tensor, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5, options: NormOptions = {}): Tensor {
  const label = 'instanceNorm';
  expectInput(rt, label, input, eps, 3, '(N, C, *spatial)');
  const [N, C] = input.shape as [number, number];
  const inner = numel(input.shape.slice(2));
  if (inner <= 1) throw new ShapeError(`${label}: expected more than 1 spatial element, got input ${formatShape(input.shape)}`);
  return normalize(rt, input, N * C, inner, eps, {
    affInner: inner,
    affCount: C,
    weight: expectParam(rt, label, 'weight', weight, [C], input),
    bias: expectParam(rt, label, 'bias', bias, [C], input),
    options,
  }, label);
}

/**
 * `F.batch_norm(input, running_mean, running_var, weight, bias, training=False, eps=eps)`: input (N, C, *);
 * all parameters (C). Models usually fold it into the convolution before it with {@link foldBatchNorm}.
 */
export function batchNorm(
  rt: Runtime, input: Tensor, runningMean: Tensor, runningVar: Tensor, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5,
  options: Omit<NormOptions, 'variant'> = {},
): Tensor {
  const label = 'batchNorm';
  expectInput(rt, label, input, eps, 2, '(N, C, *)');
  const C = input.shape[1]!;
  expectParam(rt, label, 'runningMean', runningMean, [C], input);
  expectParam(rt, label, 'runningVar', runningVar, [C], input);
  const w = expectParam(rt, label, 'weight', weight, [C], input);
  const b = expectParam(rt, label, 'bias', bias, [C], input);
  if (input.size === 0) return output(rt, input.shape);
  const inner = numel(input.shape.slice(2));
  const stats = output(rt, [C, 4]);
  try {
    rt.dispatch({
      shader: NORM,
      entry: 'stats_running',
      uniforms: { channels: C, eps },
      bindings: { running_mean: runningMean.buffer, running_var: runningVar.buffer, stats_out: stats.buffer },
      workgroups: Math.ceil(C / LINEAR_WORKGROUP),
      label: `${label}:stats`,
    });
    return applyNorm(rt, input, stats, { statInner: inner, statCount: C, affInner: inner, affCount: C, weight: w, bias: b, options }, label);
  } finally {
    stats.dispose();
  }
}

/** An inference batch norm's parameters on the CPU, each of C values. */
export interface BatchNormParams {
  runningMean: Float32Array;
  runningVar: Float32Array;
  weight?: Float32Array | null;
  bias?: Float32Array | null;
  /** Default 1e-5. */
  eps?: number;
}

/**
 * Folds `batchNorm(conv(x))` into one convolution: with s = γ/√(var + eps) per output channel o,
 * W'[o] = W[o]·s[o] and b'[o] = (b[o] − mean[o])·s[o] + β[o]. Returns new arrays; the inputs are unchanged.
 *
 * Which weight dim is the output channel depends on the layer:
 * - conv (`transposed: false`): weight (Cout, Cin/groups, *k); output channel o is dim 0.
 * - transposed conv (`transposed: true`): weight (Cin, Cout/groups, *k); input channel i belongs to group
 *   g = ⌊i / (Cin/groups)⌋, and its slice j along dim 1 feeds output channel o = g·(Cout/groups) + j.
 *
 * @param weight the conv weight, row-major with shape `shape` (any number of kernel dims)
 * @param bias the conv bias (Cout), or null when the conv has none
 */
export function foldBatchNorm(
  weight: Float32Array,
  shape: readonly number[],
  bias: Float32Array | null,
  bn: BatchNormParams,
  options: { transposed?: boolean; groups?: number } = {},
): { weight: Float32Array; bias: Float32Array } {
  const label = 'foldBatchNorm';
  const transposed = options.transposed ?? false;
  const groups = options.groups ?? 1;
  if (shape.length < 2 || numel(shape) !== weight.length) {
    throw new ShapeError(`${label}: weight of ${weight.length} values does not match shape ${formatShape(shape)} (need rank >= 2)`);
  }
  if (!Number.isInteger(groups) || groups < 1 || shape[0]! % groups !== 0) {
    throw new ShapeError(`${label}: groups=${groups} does not divide dim 0 of weight ${formatShape(shape)}`);
  }
  const cout = transposed ? shape[1]! * groups : shape[0]!;
  const eps = bn.eps ?? 1e-5;
  expectFinite(label, 'eps', eps);
  for (const [name, p] of [['runningMean', bn.runningMean], ['runningVar', bn.runningVar], ['weight', bn.weight], ['bias', bn.bias], ['conv bias', bias]] as const) {
    if (p && p.length !== cout) throw new ShapeError(`${label}: ${name} has ${p.length} values, the conv ${formatShape(shape)} has ${cout} output channels`);
  }
  const s = new Float64Array(cout);
  const foldedBias = new Float32Array(cout);
  for (let o = 0; o < cout; o++) {
    s[o] = (bn.weight ? bn.weight[o]! : 1) / Math.sqrt(bn.runningVar[o]! + eps);
    foldedBias[o] = ((bias ? bias[o]! : 0) - bn.runningMean[o]!) * s[o]! + (bn.bias ? bn.bias[o]! : 0);
  }
  const folded = new Float32Array(weight.length);
  const kernel = numel(shape.slice(2));
  const [d0, d1] = shape as [number, number];
  const perGroupIn = d0 / groups;
  for (let i = 0; i < d0; i++) {
    for (let j = 0; j < d1; j++) {
      const o = transposed ? Math.floor(i / perGroupIn) * d1 + j : i;
      const at = (i * d1 + j) * kernel;
      for (let t = 0; t < kernel; t++) folded[at + t] = weight[at + t]! * s[o]!;
    }
  }
  return { weight: folded, bias: foldedBias };
}
