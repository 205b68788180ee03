/**
 * Attention: `scaledDotProductAttention` (F.scaled_dot_product_attention) and `multiHeadAttention` (diffusers'
 * Attention block: to_q/to_k/to_v, attention, to_out.0). Both run one flash-attention kernel that keeps the
 * softmax online in f32, so no (Lq, Lk) score matrix is ever allocated. The kernel reads q, k, v and writes
 * the output through per-(batch, head, row) strides, which is how the head split and merge of
 * multiHeadAttention happen without transposes.
 */
import attentionCode from '../../shaders/attention.wgsl?raw';
import attentionSubgroupCode from '../../shaders/attention_subgroup.wgsl?raw';
import { ShapeError } from '../errors';
import { isCpuAdapter, type OptionalFeature } from '../gpu/device';
import type { Overrides } from '../gpu/pipelines';
import type { Runtime } from '../gpu/runtime';
import { shader, type Shader } from '../gpu/shader';
import type { DType } from '../tensor/dtype';
import { broadcastShapes, broadcastStrides, contiguousStrides, formatShape } from '../tensor/shape';
import { Tensor } from '../tensor/tensor';
import { pickVariant, tune, tuneKey } from './autotune';
import { expectFinite, expectSameEngine, output } from './common';
import { linear } from './matmul';

/** Largest head dim (D and Dv) the kernels hold in registers (MAX_D4 · 4 in the shaders). */
export const MAX_HEAD_DIM = 128;
const WORKGROUP = 64;

/** One implementation of the attention kernel. */
interface AttentionVariant {
  shader: Shader;
  overrides: Overrides;
  /** Query rows each invocation owns (the ROWS override). */
  rows: number;
  /** Element type of q, k, v and the output. */
  dtype: DType;
  /** Device feature the shader needs, if any. */
  feature: OptionalFeature | null;
}

const ATTENTION = shader('attention.wgsl', attentionCode);
const ATTENTION_F16 = shader('attention.wgsl', attentionCode, { elem: 'f16' });

/**
 * The variants, as data. `tiled` stages K/V tiles in workgroup memory (real GPUs); `direct` reads them from
 * storage with no barriers (CPU adapters, where barriers cost more than the cache misses they save);
 * `subgroup` has each lane load one key's rows and shares them with subgroupShuffle, no workgroup memory;
 * `f16` and `f16Direct` are `tiled` and `direct` on f16 tensors with f32 arithmetic. CPU adapters run each
 * SIMD lane as an invocation and gain from more rows per invocation (8 rows ran ~2x faster than 2 on
 * lavapipe); GPUs keep 2 to limit register pressure.
 */
export const ATTENTION_VARIANTS = {
  tiled: { shader: ATTENTION, overrides: { STAGED: true }, rows: 2, dtype: 'f32', feature: null },
  direct: { shader: ATTENTION, overrides: { STAGED: false }, rows: 8, dtype: 'f32', feature: null },
  subgroup: { shader: shader('attention_subgroup.wgsl', attentionSubgroupCode), overrides: {}, rows: 8, dtype: 'f32', feature: 'subgroups' },
  f16: { shader: ATTENTION_F16, overrides: { STAGED: true }, rows: 2, dtype: 'f16', feature: 'shader-f16' },
  f16Direct: { shader: ATTENTION_F16, overrides: { STAGED: false }, rows: 8, dtype: 'f16', feature: 'shader-f16' },
} as const satisfies Record<string, AttentionVariant>;
export type AttentionVariantName = keyof typeof ATTENTION_VARIANTS;

/**
 * The variant used when none is forced. CPU adapters get the barrier-free kinds, `subgroup` when the device
 * has subgroups (7-15% ahead of `direct` on lavapipe and SwiftShader); other devices get the `tiled` kinds.
 */
export function defaultAttentionVariant(rt: Runtime, dtype: DType): AttentionVariantName {
  const software = isCpuAdapter(rt.ctx);
  if (dtype === 'f16') return software ? 'f16Direct' : 'f16';
  if (!software) return 'tiled';
  return rt.ctx.features.subgroups ? 'subgroup' : 'direct';
}

/** The variants that run on this device for a dtype, the fixed rule's pick first. */
function attentionVariants(rt: Runtime, dtype: DType): AttentionVariantName[] {
  const first = defaultAttentionVariant(rt, dtype);
  const usable = (Object.keys(ATTENTION_VARIANTS) as AttentionVariantName[]).filter((v) => {
    const variant: AttentionVariant = ATTENTION_VARIANTS[v];
    return v !== first && variant.dtype === dtype && (!variant.feature || rt.ctx.features[variant.feature]);
  });
  return [first, ...usable];
}

/** Times the variants on zero operands of the problem's sizes, contiguous, with a zero additive mask if it had one. */
async function tuneAttention(rt: Runtime, key: string, p: AttentionProblem): Promise<string> {
  const dtype = p.q.tensor.dtype;
  const make = (shape: number[], type: DType = dtype) => Tensor.fromData(rt, new Float32Array(shape.reduce((a, b) => a * b, 1)), shape, type);
  const head = (t: Tensor, rows: number, cols: number): HeadView => ({ tensor: t, strides: [p.heads * rows * cols, rows * cols, cols], offset: 0 });
  const [q, k, v, out] = [make([p.batch, p.heads, p.lq, p.d]), make([p.batch, p.heads, p.lk, p.d]), make([p.batch, p.heads, p.lk, p.dv]), make([p.batch, p.heads, p.lq, p.dv])];
  const mask = p.mask && make([p.lq, p.lk], 'f32');
  try {
    const problem: AttentionProblem = {
      ...p,
      q: head(q, p.lq, p.d), k: head(k, p.lk, p.d), v: head(v, p.lk, p.dv), out: head(out, p.lq, p.dv),
      mask: mask && { tensor: mask, strides: [0, 0, p.lk, 1], kind: 'additive' },
    };
    return await tune(rt, key, attentionVariants(rt, dtype).map((name) => ({ name, run: () => attend(rt, { ...problem, variant: name }) })));
  } finally {
    for (const t of [q, k, v, out, mask]) t?.dispose();
  }
}

/** How a mask tensor is read: added to the scores, or as keep (nonzero) / block (zero) flags. */
export type MaskKind = 'additive' | 'bool';

/** Options of {@link scaledDotProductAttention}. */
export interface AttentionOptions {
  /**
   * A mask broadcastable to (…batch, Lq, Lk) as in PyTorch. An f32 mask is added to the scaled scores
   * (−Infinity blocks a key) unless `maskKind` is `'bool'`; an i32 mask is always boolean. A boolean mask
   * attends where the value is nonzero, like torch's bool `attn_mask` (true = attend). Masks stay 32-bit for
   * f16 attention.
   */
  attnMask?: Tensor | null;
  /** Reads an f32 `attnMask` as 0/1 flags instead of additive values. Default `'additive'` for f32. */
  maskKind?: MaskKind;
  /** Score scale; default 1/√D. */
  scale?: number;
  /** Query i sees keys j <= i (top-left aligned, torch's tril(ones(Lq, Lk))); excludes `attnMask`. */
  isCausal?: boolean;
  /** Force an implementation; default {@link defaultAttentionVariant}. */
  variant?: AttentionVariantName;
}

/** A (B, H, L, D) operand in a buffer: strides of b, h and the row (the last dim is contiguous), offset. */
interface HeadView {
  tensor: Tensor;
  strides: readonly [number, number, number];
  offset: number;
}

/** Everything one dispatch needs; sizes in elements. */
interface AttentionProblem {
  batch: number;
  heads: number;
  lq: number;
  lk: number;
  d: number;
  dv: number;
  q: HeadView;
  k: HeadView;
  v: HeadView;
  out: HeadView;
  /** Mask and its (b, h, query, key) strides. */
  mask: { tensor: Tensor; strides: readonly number[]; kind: MaskKind } | null;
  scale: number;
  causal: boolean;
  /** Forced; else measured or the fixed rule. */
  variant?: AttentionVariantName;
  label: string;
}

const MASK_CODES = { none: 0, additive: 1, boolI32: 2, boolF32: 3 } as const;

function maskCode(mask: AttentionProblem['mask']): number {
  if (!mask) return MASK_CODES.none;
  if (mask.tensor.dtype === 'i32') return MASK_CODES.boolI32;
  return mask.kind === 'bool' ? MASK_CODES.boolF32 : MASK_CODES.additive;
}

/** Encodes the attention kernel for one problem, writing into `p.out`. */
function attend(rt: Runtime, p: AttentionProblem): void {
  const dtype = p.q.tensor.dtype;
  const key = tuneKey(rt, 'attention', `${p.batch}x${p.heads}x${p.lq}x${p.lk}x${p.d}x${p.dv} ${dtype}${p.mask ? ' mask' : ''}`);
  const name = p.variant ?? pickVariant(rt, key, attentionVariants(rt, dtype), () => tuneAttention(rt, key, p));
  const variant: AttentionVariant = ATTENTION_VARIANTS[name];
  if (!variant) throw new ShapeError(`${p.label}: unknown variant '${String(name)}' (known: ${Object.keys(ATTENTION_VARIANTS).join(', ')})`);
  if (variant.feature && !rt.ctx.features[variant.feature]) {
    throw new ShapeError(`${p.label}: variant '${name}' needs the ${variant.feature} feature, which this device does not have`);
  }
  for (const [role, t] of [['query', p.q.tensor], ['key', p.k.tensor], ['value', p.v.tensor]] as const) {
    if (t.dtype !== variant.dtype) throw new ShapeError(`${p.label}: variant '${name}' needs ${variant.dtype} tensors, ${role} is ${t.dtype}`);
  }
  const rowsPerGroup = variant.rows * WORKGROUP;
  const blocks = Math.ceil(p.lq / rowsPerGroup);
  const units = p.batch * p.heads * blocks;
  if (units === 0 || p.dv === 0) return;
  const quad = (h: HeadView) => [...h.strides, h.offset];
  const aligned = (h: HeadView) => h.strides.every((s) => s % 4 === 0) && h.offset % 4 === 0;
  rt.dispatch({
    shader: variant.shader,
    overrides: { ...variant.overrides, WORKGROUP, ROWS: variant.rows },
    uniforms: {
      lq: p.lq,
      lk: p.lk,
      d: p.d,
      dv: p.dv,
      heads: p.heads,
      blocks,
      units,
      scale: p.scale,
      mask_kind: maskCode(p.mask),
      causal: Number(p.causal),
      vec: Number(p.d % 4 === 0 && p.dv % 4 === 0 && aligned(p.k) && aligned(p.v)),
      q_str: quad(p.q),
      k_str: quad(p.k),
      v_str: quad(p.v),
      o_str: quad(p.out),
      mask_str: p.mask ? p.mask.strides : [0, 0, 0, 0],
    },
    bindings: {
      q: p.q.tensor.buffer,
      k: p.k.tensor.buffer,
      v: p.v.tensor.buffer,
      k4: p.k.tensor.buffer,
      v4: p.v.tensor.buffer,
      // An unused binding still needs a buffer.
      mask: (p.mask?.tensor ?? p.q.tensor).buffer,
      out: p.out.tensor.buffer,
    },
    workgroups: units,
    label: p.label,
  });
}

function checkHeadDims(label: string, d: number, dv: number, shapes: string): void {
  if (d < 1 || d > MAX_HEAD_DIM || dv > MAX_HEAD_DIM) {
    throw new ShapeError(`${label}: head dims must be 1..${MAX_HEAD_DIM}, got D=${d}, Dv=${dv} (${shapes})`);
  }
}

/** Leading dims of a rank-2..4 operand padded to (B, H). */
function leadTwo(shape: readonly number[]): number[] {
  return [...new Array<number>(4 - shape.length).fill(1), ...shape.slice(0, -2)];
}

/** The (b, h, query, key) strides of a mask broadcast to the scores (B, H, Lq, Lk). */
function maskStrides(label: string, mask: Tensor, scoreShape: readonly number[]): number[] {
  const pad = (shape: readonly number[]) => [...new Array<number>(Math.max(0, 4 - shape.length)).fill(1), ...shape];
  const scores = pad(scoreShape);
  const own = pad(mask.shape);
  if (mask.rank > scoreShape.length || own.some((d, i) => d !== 1 && d !== scores[i])) {
    throw new ShapeError(`${label}: attnMask ${formatShape(mask.shape)} does not broadcast to the scores ${formatShape(scoreShape)} (…, Lq, Lk)`);
  }
  return broadcastStrides(mask.shape, scores);
}

function checkMask(label: string, mask: Tensor | null, options: AttentionOptions): MaskKind {
  const kind = options.maskKind ?? (mask?.dtype === 'i32' ? 'bool' : 'additive');
  if (kind !== 'additive' && kind !== 'bool') throw new ShapeError(`${label}: maskKind must be 'additive' or 'bool', got '${String(kind)}'`);
  if (!mask) return kind;
  if (mask.dtype === 'f16') throw new ShapeError(`${label}: attnMask must be f32 (additive or 0/1) or i32 (0/1), got f16`);
  if (mask.dtype === 'i32' && kind === 'additive') throw new ShapeError(`${label}: an i32 attnMask is boolean; pass an f32 mask for additive values`);
  if (options.isCausal) throw new ShapeError(`${label}: attnMask and isCausal cannot both be set (as in torch)`);
  return kind;
}

/**
 * `F.scaled_dot_product_attention(query, key, value, attn_mask, is_causal=, scale=)` without dropout.
 * query (…, Lq, D), key (…, Lk, D), value (…, Lk, Dv) with up to two leading dims (B, H) that broadcast
 * -> (…, Lq, Dv). D and Dv up to {@link MAX_HEAD_DIM}. A query row whose keys are all masked gives zeros
 * (torch gives NaN); every other row is finite.
 */
export function scaledDotProductAttention(rt: Runtime, query: Tensor, key: Tensor, value: Tensor, options: AttentionOptions = {}): Tensor {
  const label = 'scaledDotProductAttention';
  const mask = options.attnMask ?? null;
  expectSameEngine(rt, label, query, key, value, ...(mask ? [mask] : []));
  const shapes = `query ${formatShape(query.shape)}, key ${formatShape(key.shape)}, value ${formatShape(value.shape)}`;
  for (const t of [query, key, value]) {
    if (t.rank < 2 || t.rank > 4) throw new ShapeError(`${label}: operands must have 2 to 4 dims (…, L, D), got ${shapes}`);
  }
  const [lq, d] = query.shape.slice(-2) as [number, number];
  const [lk, dk] = key.shape.slice(-2) as [number, number];
  const [lv, dv] = value.shape.slice(-2) as [number, number];
  if (dk !== d) throw new ShapeError(`${label}: key must end in D=${d} like query: ${shapes}`);
  if (lv !== lk) throw new ShapeError(`${label}: value must have Lk=${lk} rows like key: ${shapes}`);
  checkHeadDims(label, d, dv, shapes);
  const lead = broadcastShapes(broadcastShapes(query.shape.slice(0, -2), key.shape.slice(0, -2), label), value.shape.slice(0, -2), label);
  const kind = checkMask(label, mask, options);
  const scale = options.scale ?? 1 / Math.sqrt(d);
  expectFinite(label, 'scale', scale);

  const [B, H] = leadTwo([...lead, 0, 0]) as [number, number];
  const view = (t: Tensor): HeadView => {
    const rows = t.shape[t.rank - 2]!;
    const cols = t.shape[t.rank - 1]!;
    const [sb, sh] = broadcastStrides(leadTwo(t.shape), [B, H]).map((s) => s * rows * cols) as [number, number];
    return { tensor: t, strides: [sb, sh, cols], offset: 0 };
  };
  const out = output(rt, [...lead, lq, dv], query.dtype);
  const outStrides = contiguousStrides([B, H, lq, dv]);
  attend(rt, {
    batch: B, heads: H, lq, lk, d, dv,
    q: view(query), k: view(key), v: view(value),
    out: { tensor: out, strides: [outStrides[0]!, outStrides[1]!, dv], offset: 0 },
    mask: mask ? { tensor: mask, strides: maskStrides(label, mask, [...lead, lq, lk]), kind } : null,
    scale,
    causal: options.isCausal ?? false,
    variant: options.variant,
    label,
  });
  return out;
}

/** Weights and options of {@link multiHeadAttention}, named after diffusers' Attention. */
export interface MultiHeadAttentionOptions {
  heads: number;
  /** to_q.weight (H·D, C). */
  qWeight: Tensor;
  /** to_k.weight (H·D, Cc), Cc the context's channels (C without context). */
  kWeight: Tensor;
  /** to_v.weight (H·Dv, Cc). */
  vWeight: Tensor;
  /** to_out.0.weight (Cout, H·Dv). */
  outWeight: Tensor;
  /** to_q.bias, to_k.bias, to_v.bias (H·D, H·D, H·Dv): diffusers' Attention has them when built with bias=True. */
  qBias?: Tensor | null;
  kBias?: Tensor | null;
  vBias?: Tensor | null;
  /** to_out.0.bias (Cout). */
  outBias?: Tensor | null;
  /** encoder_hidden_states (B, Lk, Cc) for cross-attention; default: x (self-attention). */
  context?: Tensor | null;
  /** As in {@link AttentionOptions}, against scores (B, H, L, Lk). */
  attnMask?: Tensor | null;
  maskKind?: MaskKind;
  scale?: number;
  variant?: AttentionVariantName;
}

/**
 * diffusers' `Attention` forward (optional biases on to_q/to_k/to_v, bias on to_out.0, no norms or residual):
 * x (B, L, C) [, context (B, Lk, Cc)] -> (B, L, Cout). The kernel reads the projections (B, L, H·D) as
 * (B, H, L, D) through strides and writes (B, L, H·Dv) directly, so no transpose is made.
 */
export function multiHeadAttention(rt: Runtime, x: Tensor, options: MultiHeadAttentionOptions): Tensor {
  const label = 'multiHeadAttention';
  const context = options.context ?? x;
  const { heads, qWeight, kWeight, vWeight } = options;
  const mask = options.attnMask ?? null;
  expectSameEngine(rt, label, x, context, ...(mask ? [mask] : []));
  if (x.rank !== 3 || context.rank !== 3 || context.shape[0] !== x.shape[0]) {
    throw new ShapeError(`${label}: x must be (B, L, C) and context (B, Lk, Cc) with the same B, got x ${formatShape(x.shape)}, context ${formatShape(context.shape)}`);
  }
  if (!Number.isInteger(heads) || heads < 1) throw new ShapeError(`${label}: heads must be a positive integer, got ${heads}`);
  const inner = qWeight.shape[0]!;
  const innerV = vWeight.shape[0]!;
  if (kWeight.shape[0] !== inner || inner % heads !== 0 || innerV % heads !== 0) {
    throw new ShapeError(`${label}: to_q ${formatShape(qWeight.shape)} and to_k ${formatShape(kWeight.shape)} must have equal rows, and they and to_v ${formatShape(vWeight.shape)} must divide into ${heads} heads`);
  }
  const d = inner / heads;
  const dv = innerV / heads;
  checkHeadDims(label, d, dv, `to_q ${formatShape(qWeight.shape)}, to_v ${formatShape(vWeight.shape)}, heads ${heads}`);
  const kind = checkMask(label, mask, options);
  const scale = options.scale ?? 1 / Math.sqrt(d);
  expectFinite(label, 'scale', scale);
  const [B, L] = x.shape as [number, number, number];
  const lk = context.shape[1]!;

  const q = linear(rt, x, qWeight, options.qBias ?? null);
  const k = linear(rt, context, kWeight, options.kBias ?? null);
  const v = linear(rt, context, vWeight, options.vBias ?? null);
  const merged = output(rt, [B, L, innerV]);
  try {
    // (B, L, H·D) seen as (B, H, L, D): head h starts h·D into each row.
    const heads4 = (t: Tensor, rows: number, width: number, dh: number): HeadView => ({ tensor: t, strides: [rows * width, dh, width], offset: 0 });
    attend(rt, {
      batch: B, heads, lq: L, lk, d, dv,
      q: heads4(q, L, inner, d),
      k: heads4(k, lk, inner, d),
      v: heads4(v, lk, innerV, dv),
      out: heads4(merged, L, innerV, dv),
      mask: mask ? { tensor: mask, strides: maskStrides(label, mask, [B, heads, L, lk]), kind } : null,
      scale,
      causal: false,
      variant: options.variant,
      label,
    });
    return linear(rt, merged, options.outWeight, options.outBias ?? null);
  } finally {
    for (const t of [q, k, v, merged]) t.dispose();
  }
}
