/**
 * Matrix products: `matmul` (torch.matmul), `linear` (F.linear), and the lower-level {@link gemm} they share,
 * which other kernel families (1x1 convolutions, attention projections) call directly. One shader file with
 * two variants (entry points): register-blocked and workgroup-memory tiled.
 */
import matmulCode from '../../shaders/matmul.wgsl?raw';
import { ShapeError } from '../errors';
import type { Overrides } from '../gpu/pipelines';
import { isCpuAdapter } from '../gpu/device';
import type { Runtime } from '../gpu/runtime';
import { shader } from '../gpu/shader';
import { broadcastShapes, broadcastStrides, contiguousStrides, formatShape, numel } from '../tensor/shape';
import type { Tensor } from '../tensor/tensor';
import { pickVariant, tune, tuneKey } from './autotune';
import { expectF32, expectFinite, expectSameEngine, output, zeros } from './common';
import { UNARY_OPS } from './elementwise';

const MATMUL = shader('matmul.wgsl', matmulCode);

/** Activations `gemm` can fuse into its output, coded as in unary.wgsl (`copy` is the identity). */
export const GEMM_ACTIVATIONS = {
  none: UNARY_OPS.copy,
  relu: UNARY_OPS.relu,
  leakyRelu: UNARY_OPS.leakyRelu,
  silu: UNARY_OPS.silu,
  gelu: UNARY_OPS.gelu,
  geluTanh: UNARY_OPS.geluTanh,
  tanh: UNARY_OPS.tanh,
  sigmoid: UNARY_OPS.sigmoid,
} as const;
export type GemmActivation = keyof typeof GEMM_ACTIVATIONS;

/** Batch dims the shader can index (its uniform holds 8). */
const MAX_BATCH_RANK = 8;

/** The sizes a variant's grid and applicability depend on. */
export interface GemmProblem {
  /** Number of C matrices (product of the batch dims). */
  batch: number;
  m: number;
  n: number;
  k: number;
}

/** One implementation of {@link gemm}: an entry point of matmul.wgsl with its fixed overrides and grid. */
export interface MatmulVariant {
  entry: string;
  /** Overrides fixed by the variant (shape-dependent ones are added per call). */
  overrides: Overrides;
  /** Whether the entry reads A and B through the vec4 views `a4`/`b4` as well. */
  vec4Views: boolean;
  /** Total workgroups for a problem. */
  workgroups(p: GemmProblem): number;
}

const BLOCK = 4; // each invocation computes a BLOCK x BLOCK block of C
const BLOCKED_WORKGROUP = 64;
const TILE_WG = 16; // tiled: 16 x 16 invocations, a 64 x 64 tile of C

/**
 * The variants, as data: an autotuner can time each on a problem and pass its pick as `variant`.
 * Sizes here must agree with the overrides they set.
 */
export const MATMUL_VARIANTS = {
  blocked: {
    entry: 'blocked',
    overrides: { WORKGROUP: BLOCKED_WORKGROUP },
    vec4Views: true,
    workgroups: (p) => Math.ceil((p.batch * Math.ceil(p.m / BLOCK) * Math.ceil(p.n / BLOCK)) / BLOCKED_WORKGROUP),
  },
  tiled: {
    entry: 'tiled',
    overrides: { TILE_WG, TILE_K: 16 },
    vec4Views: false,
    workgroups: (p) => p.batch * Math.ceil(p.m / (TILE_WG * BLOCK)) * Math.ceil(p.n / (TILE_WG * BLOCK)),
  },
} as const satisfies Record<string, MatmulVariant>;
export type MatmulVariantName = keyof typeof MATMUL_VARIANTS;

/**
 * The fixed rule, used until a variant is measured (see {@link pickVariant}): CPU-emulated adapters (lavapipe, SwiftShader), where
 * barriers cost more than the cache misses they save, and products too small to fill a 64 x 64 tile get the
 * register-blocked variant; real GPUs get the tiled one.
 */
export function defaultMatmulVariant(rt: Runtime, p: GemmProblem): MatmulVariantName {
  if (isCpuAdapter(rt.ctx) || p.m < 32 || p.n < 32) return 'blocked';
  return 'tiled';
}

/** Every variant, the fixed rule's pick first. */
function matmulVariants(rt: Runtime, p: GemmProblem): MatmulVariantName[] {
  const first = defaultMatmulVariant(rt, p);
  return [first, ...(Object.keys(MATMUL_VARIANTS) as MatmulVariantName[]).filter((v) => v !== first)];
}

/** Times the variants on zero operands of the problem's sizes (contiguous, so vec4 reads apply when they can). */
async function tuneGemm(rt: Runtime, key: string, p: GemmProblem, transB: boolean): Promise<string> {
  const a = zeros(rt, [p.batch, p.m, p.k]);
  const b = zeros(rt, transB ? [p.batch, p.n, p.k] : [p.batch, p.k, p.n]);
  try {
    const run = (variant: MatmulVariantName) => () => gemm(rt, { a, b, m: p.m, n: p.n, k: p.k, transB, batch: [p.batch], variant }).dispose();
    return await tune(rt, key, matmulVariants(rt, p).map((name) => ({ name, run: run(name) })));
  } finally {
    a.dispose();
    b.dispose();
  }
}

/** Arguments of {@link gemm}. All sizes are in elements; tensors are f32 and contiguous. */
export interface GemmArgs {
  /** A: (…batch, m, k) row-major, with batch strides `aBatchStrides`. */
  a: Tensor;
  /** B: (…batch, k, n) row-major, or (…batch, n, k) when `transB` (a linear layer's weight). */
  b: Tensor;
  m: number;
  n: number;
  k: number;
  /** Read B as (n, k) and use its transpose; no copy is made. Default false. */
  transB?: boolean;
  /** Batch dims of the result, outermost first. Default `[]` (one matrix). */
  batch?: readonly number[];
  /** Elements between consecutive A matrices along each batch dim; 0 reuses one A. Default: contiguous. */
  aBatchStrides?: readonly number[];
  /** Elements between consecutive B matrices along each batch dim; 0 reuses one B (a shared weight). Default: contiguous. */
  bBatchStrides?: readonly number[];
  /** Scales A @ B before the bias is added (e.g. attention's 1/sqrt(d)). Default 1. */
  alpha?: number;
  /** Added after scaling: `n` values, one per column (`biasAlong: 'n'`, as in linear), or `m`, one per row. */
  bias?: Tensor | null;
  /** Which dim of C the bias runs along; `'m'` suits a 1x1 convolution, whose rows are output channels. Default `'n'`. */
  biasAlong?: 'm' | 'n';
  /** Applied last. Default `'none'`. */
  activation?: GemmActivation;
  /** Negative slope when `activation` is `'leakyRelu'`. Default 0.01. */
  negativeSlope?: number;
  /** Force an implementation; default {@link defaultMatmulVariant}. */
  variant?: MatmulVariantName;
  /** Op name for timings and errors. Default `'gemm'`. */
  label?: string;
}

/**
 * C = activation(alpha · A @ B + bias) for every batch index: the one matrix product behind `matmul`, `linear`,
 * 1x1 convolutions and attention. Returns a new contiguous tensor of shape (…batch, m, n).
 *
 * @example A 1x1 convolution on NCHW x (N, Cin, H, W) with weight (Cout, Cin) and bias (Cout):
 * ```ts
 * const y = gemm(rt, { a: weight, b: x, m: Cout, n: H * W, k: Cin, batch: [N], aBatchStrides: [0],
 *   bias, biasAlong: 'm' }); // (N, Cout, H*W): reshape to (N, Cout, H, W)
 * ```
 */
export function gemm(rt: Runtime, args: GemmArgs): Tensor {
  const label = args.label ?? 'gemm';
  const { a, b, m, n, k } = args;
  const bias = args.bias ?? null;
  expectSameEngine(rt, label, a, b, ...(bias ? [bias] : []));
  expectF32(label, { name: 'a', tensor: a }, { name: 'b', tensor: b }, ...(bias ? [{ name: 'bias', tensor: bias }] : []));
  for (const [name, v] of [['m', m], ['n', n], ['k', k]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new ShapeError(`${label}: ${name} must be a non-negative integer, got ${v}`);
  }
  const transB = args.transB ?? false;
  const batch = args.batch ?? [];
  if (batch.length > MAX_BATCH_RANK) throw new ShapeError(`${label}: ${batch.length} batch dims exceed the supported ${MAX_BATCH_RANK}`);
  const aStrides = args.aBatchStrides ?? contiguousStrides(batch).map((s) => s * m * k);
  const bStrides = args.bBatchStrides ?? contiguousStrides(batch).map((s) => s * k * n);
  const checkReach = (name: 'a' | 'b', t: Tensor, strides: readonly number[], matrix: number): void => {
    if (strides.length !== batch.length) throw new ShapeError(`${label}: ${name}BatchStrides has ${strides.length} entries for ${batch.length} batch dims`);
    const end = strides.reduce((sum, s, i) => sum + s * (batch[i]! - 1), matrix);
    if (numel(batch) > 0 && matrix > 0 && end > t.size) {
      throw new ShapeError(`${label}: ${name} ${formatShape(t.shape)} holds ${t.size} elements but batch ${formatShape(batch)} with strides ${formatShape(strides)} reads ${end}`);
    }
  };
  checkReach('a', a, aStrides, m * k);
  checkReach('b', b, bStrides, k * n);
  const biasAlong = args.biasAlong ?? 'n';
  if (bias && bias.size !== (biasAlong === 'n' ? n : m)) {
    throw new ShapeError(`${label}: bias ${formatShape(bias.shape)} must hold ${biasAlong === 'n' ? n : m} values (one per ${biasAlong === 'n' ? 'column n' : 'row m'})`);
  }
  const alpha = args.alpha ?? 1;
  expectFinite(label, 'alpha', alpha);
  const negativeSlope = args.negativeSlope ?? 0.01;
  expectFinite(label, 'negativeSlope', negativeSlope);

  const out = output(rt, [...batch, m, n]);
  const problem: GemmProblem = { batch: numel(batch), m, n, k };
  if (out.size === 0) return out;
  const key = tuneKey(rt, 'gemm', `${problem.batch}x${m}x${n}x${k}${transB ? 'T' : ''}`);
  const name = args.variant ?? pickVariant(rt, key, matmulVariants(rt, problem), () => tuneGemm(rt, key, problem, transB));
  const variant: MatmulVariant = MATMUL_VARIANTS[name];
  if (!variant) throw new ShapeError(`${label}: unknown variant '${String(name)}' (known: ${Object.keys(MATMUL_VARIANTS).join(', ')})`);
  const aligned = (strides: readonly number[]) => strides.every((s) => s % 4 === 0);
  const overrides: Overrides = {
    ...variant.overrides,
    TRANS_B: transB,
    BIAS: bias ? (biasAlong === 'n' ? 1 : 2) : 0,
    ACT: GEMM_ACTIVATIONS[args.activation ?? 'none'],
  };
  if (variant.vec4Views) {
    overrides.VEC_A = k % 4 === 0 && aligned(aStrides);
    overrides.VEC_B = (transB ? k : n) % 4 === 0 && aligned(bStrides);
  }
  const pad = (v: readonly number[]) => [...v, ...new Array<number>(MAX_BATCH_RANK - v.length).fill(0)];
  rt.dispatch({
    shader: MATMUL,
    entry: variant.entry,
    overrides,
    uniforms: {
      m, n, k,
      batch: problem.batch,
      batch_rank: batch.length,
      alpha,
      slope: negativeSlope,
      batch_shape: pad(batch),
      a_strides: pad(aStrides),
      b_strides: pad(bStrides),
    },
    bindings: {
      a: a.buffer,
      b: b.buffer,
      ...(variant.vec4Views ? { a4: a.buffer, b4: b.buffer } : {}),
      // An unused binding still needs a buffer; A's is read-only already.
      bias: bias ? bias.buffer : a.buffer,
      c: out.buffer,
    },
    workgroups: variant.workgroups(problem),
    label,
  });
  return out;
}

/** `torch.matmul(input, other)`: 1-D operands are promoted (and the added dim removed), batch dims broadcast. */
export function matmul(rt: Runtime, input: Tensor, other: Tensor, options: { variant?: MatmulVariantName } = {}): Tensor {
  if (input.rank === 0 || other.rank === 0) {
    throw new ShapeError(`matmul: both arguments need at least 1 dim, got ${formatShape(input.shape)} and ${formatShape(other.shape)}`);
  }
  // View input as (…, m, k) and other as (…, k, n).
  const aShape = input.rank === 1 ? [1, input.shape[0]!] : input.shape;
  const bShape = other.rank === 1 ? [other.shape[0]!, 1] : other.shape;
  const [m, k] = aShape.slice(-2) as [number, number];
  const [k2, n] = bShape.slice(-2) as [number, number];
  if (k !== k2) {
    throw new ShapeError(`matmul: input ${formatShape(input.shape)} and other ${formatShape(other.shape)} differ in the contracted dim (${k} vs ${k2})`);
  }
  const aBatch = aShape.slice(0, -2);
  const bBatch = bShape.slice(0, -2);
  const batch = broadcastShapes(aBatch, bBatch, 'matmul');
  const outShape = [...batch, ...(input.rank > 1 ? [m] : []), ...(other.rank > 1 ? [n] : [])];
  const product = gemm(rt, {
    a: input,
    b: other,
    m, n, k,
    // A (k, 1) column is also a (1, k) row, which the transposed path reads with vec4 loads.
    transB: n === 1,
    batch,
    aBatchStrides: broadcastStrides(aBatch, batch).map((s) => s * m * k),
    bBatchStrides: broadcastStrides(bBatch, batch).map((s) => s * k * n),
    variant: options.variant,
    label: 'matmul',
  });
  return reshaped(product, outShape);
}

/** `F.linear(input, weight, bias)`: input (…, in) @ weightᵀ (in, out) + bias (out) -> (…, out). */
export function linear(rt: Runtime, input: Tensor, weight: Tensor, bias?: Tensor | null, options: { variant?: MatmulVariantName } = {}): Tensor {
  if (weight.rank !== 2) throw new ShapeError(`linear: weight must be 2-D (out, in), got ${formatShape(weight.shape)}`);
  const [outFeatures, inFeatures] = weight.shape as [number, number];
  if (input.rank === 0 || input.shape[input.rank - 1] !== inFeatures) {
    throw new ShapeError(`linear: input ${formatShape(input.shape)} must end in in_features=${inFeatures} (weight ${formatShape(weight.shape)})`);
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== outFeatures)) {
    throw new ShapeError(`linear: bias ${formatShape(bias.shape)} must be [${outFeatures}] for weight ${formatShape(weight.shape)}`);
  }
  const lead = input.shape.slice(0, -1);
  const product = gemm(rt, {
    a: input,
    b: weight,
    m: numel(lead),
    n: outFeatures,
    k: inFeatures,
    transB: true,
    bias,
    variant: options.variant,
    label: 'linear',
  });
  return reshaped(product, [...lead, outFeatures]);
}

/** `t` viewed with another shape, handing over ownership (the original view is disposed). */
function reshaped(t: Tensor, shape: readonly number[]): Tensor {
  if (shape.length === t.rank && shape.every((d, i) => d === t.shape[i])) return t;
  const view = t.reshape(shape);
  t.dispose();
  return view;
}
