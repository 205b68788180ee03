/**
 * Normalization references (torch.nn.functional.group_norm / layer_norm / instance_norm / batch_norm in
 * inference mode). Statistics are two-pass in f64 (mean, then Σ(x − mean)²), biased variance as in torch.
 */
import { type CpuTensor, checkTensor, numel, shapeStr } from './tensor';

/** An optional per-channel (or normalized-shape) parameter tensor. */
export type NormParam = CpuTensor | null | undefined;

function checkParam(p: NormParam, size: number, what: string, xShape: readonly number[]): void {
  if (!p) return;
  checkTensor(p, what);
  if (p.data.length !== size || p.shape.length !== 1) {
    throw new Error(`${what}: shape ${shapeStr(p.shape)} must be [${size}] for input shape ${shapeStr(xShape)}`);
  }
}

/**
 * Normalizes consecutive segments: for each of `outer` segments of `len` elements starting at s·len,
 * y = (x − mean)/√(var + eps)·w[c] + b[c] where c = floor(offset within segment / inner) % channels.
 */
function normalizeSegments(
  src: Float32Array,
  out: Float32Array,
  segments: number,
  len: number,
  eps: number,
  affine: (i: number) => number,
  weight: Float32Array | null,
  bias: Float32Array | null,
): void {
  for (let s = 0; s < segments; s++) {
    const base = s * len;
    let sum = 0;
    for (let i = 0; i < len; i++) sum += src[base + i]!;
    const mean = sum / len;
    let sq = 0;
    for (let i = 0; i < len; i++) {
      const d = src[base + i]! - mean;
      sq += d * d;
    }
    const rstd = 1 / Math.sqrt(sq / len + eps);
    for (let i = 0; i < len; i++) {
      let y = (src[base + i]! - mean) * rstd;
      if (weight || bias) {
        const c = affine(s * len + i);
        if (weight) y *= weight[c]!;
        if (bias) y += bias[c]!;
      }
      out[base + i] = y;
    }
  }
}

/**
 * torch.nn.functional.group_norm(x, num_groups, weight, bias, eps): x (N, C, *) is split into numGroups
 * groups of C/numGroups channels; each (n, group) is normalized over its channels and spatial positions,
 * then scaled per channel. weight, bias: (C).
 */
export function groupNorm(x: CpuTensor, numGroups: number, weight?: NormParam, bias?: NormParam, eps = 1e-5): CpuTensor {
  checkTensor(x, 'groupNorm input');
  if (x.shape.length < 2) throw new Error(`groupNorm: expected input (N, C, *), got shape ${shapeStr(x.shape)}`);
  const N = x.shape[0]!;
  const C = x.shape[1]!;
  if (!Number.isInteger(numGroups) || numGroups <= 0 || C % numGroups !== 0) {
    throw new Error(`groupNorm: channels ${C} of input shape ${shapeStr(x.shape)} not divisible by numGroups=${numGroups}`);
  }
  checkParam(weight, C, 'groupNorm weight', x.shape);
  checkParam(bias, C, 'groupNorm bias', x.shape);
  const inner = numel(x.shape.slice(2)); // H·W·…
  const len = (C / numGroups) * inner;
  const out = new Float32Array(x.data.length);
  if (len > 0) {
    normalizeSegments(x.data, out, N * numGroups, len, eps, (i) => Math.floor(i / inner) % C, weight?.data ?? null, bias?.data ?? null);
  }
  return { data: out, shape: [...x.shape] };
}

/**
 * torch.nn.functional.layer_norm(x, normalized_shape, weight, bias, eps): normalizes over the trailing dims
 * equal to normalizedShape; weight and bias have shape normalizedShape. x (…, *normalizedShape).
 */
export function layerNorm(x: CpuTensor, normalizedShape: number | readonly number[], weight?: NormParam, bias?: NormParam, eps = 1e-5): CpuTensor {
  checkTensor(x, 'layerNorm input');
  const ns = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
  const r = x.shape.length;
  if (ns.length === 0 || ns.length > r || ns.some((d, i) => d !== x.shape[r - ns.length + i])) {
    throw new Error(`layerNorm: input shape ${shapeStr(x.shape)} does not end in normalizedShape ${shapeStr(ns)}`);
  }
  const len = numel(ns);
  for (const [p, what] of [
    [weight, 'layerNorm weight'],
    [bias, 'layerNorm bias'],
  ] as const) {
    if (!p) continue;
    checkTensor(p, what);
    if (shapeStr(p.shape) !== shapeStr(ns)) throw new Error(`${what}: shape ${shapeStr(p.shape)} must equal normalizedShape ${shapeStr(ns)}`);
  }
  const out = new Float32Array(x.data.length);
  if (len > 0) normalizeSegments(x.data, out, x.data.length / len, len, eps, (i) => i % len, weight?.data ?? null, bias?.data ?? null);
  return { data: out, shape: [...x.shape] };
}

/**
 * torch.nn.functional.instance_norm(x, weight=weight, bias=bias, eps=eps) with input statistics and no
 * running stats: each (n, c) plane of x (N, C, *) is normalized over its spatial positions. Like torch,
 * needs more than one spatial element. weight, bias: (C).
 */
export function instanceNorm(x: CpuTensor, weight?: NormParam, bias?: NormParam, eps = 1e-5): CpuTensor {
  checkTensor(x, 'instanceNorm input');
  if (x.shape.length < 3) throw new Error(`instanceNorm: expected input (N, C, *spatial), got shape ${shapeStr(x.shape)}`);
  const N = x.shape[0]!;
  const C = x.shape[1]!;
  const inner = numel(x.shape.slice(2));
  if (inner <= 1) throw new Error(`instanceNorm: expected more than 1 spatial element, got input shape ${shapeStr(x.shape)}`);
  checkParam(weight, C, 'instanceNorm weight', x.shape);
  checkParam(bias, C, 'instanceNorm bias', x.shape);
  const out = new Float32Array(x.data.length);
  normalizeSegments(x.data, out, N * C, inner, eps, (i) => Math.floor(i / inner) % C, weight?.data ?? null, bias?.data ?? null);
  return { data: out, shape: [...x.shape] };
}

/**
 * torch.nn.functional.batch_norm(x, running_mean, running_var, weight, bias, training=False, eps=eps):
 * y = (x − mean[c]) / √(var[c] + eps) · w[c] + b[c] with channel dim 1. x (N, C, *); all params (C).
 */
export function batchNorm(x: CpuTensor, runningMean: CpuTensor, runningVar: CpuTensor, weight?: NormParam, bias?: NormParam, eps = 1e-5): CpuTensor {
  checkTensor(x, 'batchNorm input');
  if (x.shape.length < 2) throw new Error(`batchNorm: expected input (N, C, *), got shape ${shapeStr(x.shape)}`);
  const C = x.shape[1]!;
  checkParam(runningMean, C, 'batchNorm runningMean', x.shape);
  checkParam(runningVar, C, 'batchNorm runningVar', x.shape);
  checkParam(weight, C, 'batchNorm weight', x.shape);
  checkParam(bias, C, 'batchNorm bias', x.shape);
  const inner = numel(x.shape.slice(2));
  const src = x.data;
  const out = new Float32Array(src.length);
  const md = runningMean.data;
  const vd = runningVar.data;
  const wd = weight?.data ?? null;
  const bd = bias?.data ?? null;
  for (let i = 0; i < src.length; i++) {
    const c = Math.floor(i / inner) % C;
    let y = (src[i]! - md[c]!) / Math.sqrt(vd[c]! + eps);
    if (wd) y *= wd[c]!;
    if (bd) y += bd[c]!;
    out[i] = y;
  }
  return { data: out, shape: [...x.shape] };
}
