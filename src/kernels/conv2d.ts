/**
 * 2-D convolution (`F.conv2d` semantics on NCHW tensors) with a fused epilogue.
 *
 * Weights are packed once into (KH, KW, C/groups, Opad) with the output channels contiguous; models pack at
 * load time with {@link packConv2dWeight} and call {@link conv2dPacked}, while {@link conv2d} takes PyTorch's
 * (O, C/groups, KH, KW) weight and packs on the fly. Activations stay NCHW: every kernel reads NCHW directly,
 * which saves the two layout conversions an internal NHWC would cost per layer.
 *
 * Variants, chosen per problem by measurement ({@link tuneConv2d}) or by the fixed order of
 * {@link conv2dVariants}: the kernels of conv_kernels.ts (`subgroup`, `direct`, `depthwise`, `igemm`,
 * `direct-f16`) and `matmul`, which runs 1x1 stride-1 layers as one `gemm`.
 */
import { ShapeError } from '../errors';
import type { Runtime } from '../gpu/runtime';
import { formatShape } from '../tensor/shape';
import { Tensor } from '../tensor/tensor';
import { pickVariant, tune, tuneKey } from './autotune';
import { expectF32, expectSameEngine, output, zeros } from './common';
import {
  denseMap, isCpuAdapter, kernelVariants, launch, packBias, packBlock, pairOf, paddedChannels, halfCopy,
  resolveEpilogue, unbatched, untracked, convTuneJob, type ConvEpilogue, type ConvGeometry, type Pair, type ResolvedEpilogue,
} from './conv_kernels';
import { gemm } from './matmul';

export type { Activation, ConvEpilogue, Pair } from './conv_kernels';

// ---- arguments ----

/** `F.conv2d`'s geometry arguments. */
export interface Conv2dGeometry {
  stride?: Pair;
  /** A number, [ph, pw], 'valid' (0) or 'same' (stride 1; an odd total pads the extra row/column at the end, as torch). */
  padding?: Pair | 'same' | 'valid';
  dilation?: Pair;
  groups?: number;
}

export const CONV2D_VARIANTS = ['subgroup', 'direct', 'depthwise', 'matmul', 'igemm', 'direct-f16'] as const;
export type Conv2dVariant = (typeof CONV2D_VARIANTS)[number];

/** Options of {@link conv2d}. */
export interface Conv2dOptions extends Conv2dGeometry, ConvEpilogue {
  /** Force an implementation (tests, benchmarks); it must be eligible for the problem. */
  variant?: Conv2dVariant;
}

/** Options of {@link conv2dPacked}: the geometry was fixed when packing. */
export interface Conv2dPackedOptions extends ConvEpilogue {
  variant?: Conv2dVariant;
}

// ---- packing ----

/** Padding in pixels on each side. */
interface Padding {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/** A conv2d layer's weights in the kernels' layout, with its geometry. Build once with {@link packConv2dWeight}. */
export class PackedConv2d {
  private half: Tensor | null = null;

  /** @internal Use {@link packConv2dWeight}. */
  constructor(
    /** (O, C/groups, KH, KW), as the PyTorch weight. */
    readonly weightShape: readonly [number, number, number, number],
    readonly groups: number,
    readonly stride: readonly [number, number],
    readonly dilation: readonly [number, number],
    readonly padding: Readonly<Padding>,
    /** (KH, KW, C/groups, Opad), output channels contiguous. */
    readonly weights: Tensor,
    /** (O). */
    readonly bias: Tensor,
    /** The weight as an (O, C) matrix for the gemm route, kept for 1x1 stride-1 unpadded ungrouped layers. */
    readonly matrix: Tensor | null,
  ) {}

  get outChannels(): number {
    return this.weightShape[0];
  }

  get inChannels(): number {
    return this.weightShape[1] * this.groups;
  }

  /** The weights again as f16 (for `direct-f16`), made on first use. */
  halfWeights(rt: Runtime): Tensor {
    this.half ??= halfCopy(rt, this.weights);
    return this.half;
  }

  /** The output shape for an input shape, or a ShapeError naming both. */
  outputShape(input: readonly number[], op = 'conv2d'): [number, number, number, number] {
    const [o, cinG, kh, kw] = this.weightShape;
    if (input.length !== 4) throw new ShapeError(`${op}: input must be (N, C, H, W) or (C, H, W), got ${formatShape(input)}`);
    const [n, c, h, w] = input as [number, number, number, number];
    if (c !== cinG * this.groups) {
      throw new ShapeError(`${op}: input ${formatShape(input)} has ${c} channels but weight ${formatShape(this.weightShape)} with groups=${this.groups} expects ${cinG * this.groups}`);
    }
    const effH = this.dilation[0] * (kh - 1) + 1;
    const effW = this.dilation[1] * (kw - 1) + 1;
    const ph = h + this.padding.top + this.padding.bottom;
    const pw = w + this.padding.left + this.padding.right;
    if (ph < effH || pw < effW) {
      throw new ShapeError(`${op}: padded input ${ph}x${pw} (input ${formatShape(input)}) is smaller than the dilated kernel ${effH}x${effW} (weight ${formatShape(this.weightShape)})`);
    }
    return [n, o, Math.floor((ph - effH) / this.stride[0]) + 1, Math.floor((pw - effW) / this.stride[1]) + 1];
  }

  dispose(): void {
    this.weights.dispose();
    this.bias.dispose();
    this.matrix?.dispose();
    this.half?.dispose();
  }
}

/**
 * Packs a PyTorch conv2d weight (O, C/groups, KH, KW) and bias (O) with the layer's geometry, once, into the
 * layout the kernels read. The result is used with {@link conv2dPacked} and freed with `dispose()`.
 */
export function packConv2dWeight(rt: Runtime, weight: Tensor, options: Conv2dGeometry & { bias?: Tensor | null } = {}): PackedConv2d {
  const op = 'conv2d';
  expectSameEngine(rt, op, weight);
  expectF32(op, { name: 'weight', tensor: weight });
  if (weight.rank !== 4) throw new ShapeError(`${op}: weight must be 4-D (O, C/groups, KH, KW), got ${formatShape(weight.shape)}`);
  const [o, cinG, kh, kw] = weight.shape as [number, number, number, number];
  const groups = options.groups ?? 1;
  if (!Number.isSafeInteger(groups) || groups < 1) throw new ShapeError(`${op}: groups must be a positive integer, got ${groups}`);
  if (o % groups !== 0) throw new ShapeError(`${op}: out channels ${o} (weight ${formatShape(weight.shape)}) not divisible by groups=${groups}`);
  if (o === 0 || cinG === 0 || kh === 0 || kw === 0) throw new ShapeError(`${op}: weight ${formatShape(weight.shape)} has an empty dim`);
  const bias = options.bias;
  if (bias && (bias.rank !== 1 || bias.shape[0] !== o)) {
    throw new ShapeError(`${op}: bias ${formatShape(bias.shape)} must be [${o}] (weight ${formatShape(weight.shape)})`);
  }
  const stride = pairOf(op, 'stride', options.stride, 1, 1);
  const dilation = pairOf(op, 'dilation', options.dilation, 1, 1);
  let padding: Padding;
  const p = options.padding ?? 0;
  if (p === 'valid') {
    padding = { top: 0, bottom: 0, left: 0, right: 0 };
  } else if (p === 'same') {
    if (stride[0] !== 1 || stride[1] !== 1) {
      throw new ShapeError(`${op}: padding='same' is not supported for strided convolutions (stride ${formatShape(stride)})`);
    }
    const th = dilation[0] * (kh - 1);
    const tw = dilation[1] * (kw - 1);
    padding = { top: Math.floor(th / 2), bottom: th - Math.floor(th / 2), left: Math.floor(tw / 2), right: tw - Math.floor(tw / 2) };
  } else if (typeof p === 'string') {
    throw new ShapeError(`${op}: padding must be a number, a pair, 'same' or 'valid', got '${p}'`);
  } else {
    const [ph, pw] = pairOf(op, 'padding', p, 0, 0);
    padding = { top: ph, bottom: ph, left: pw, right: pw };
  }

  const oneByOne = kh === 1 && kw === 1 && groups === 1 && stride[0] === 1 && stride[1] === 1 &&
    padding.top + padding.bottom + padding.left + padding.right === 0;
  return untracked(() => {
    const opad = paddedChannels(o);
    const packed = Tensor.empty(rt, [kh * kw * cinG * opad]);
    packBlock(rt, weight, packed, false, {
      count: packed.size, dst: 0, o, opad, cinG, coutG: o / groups, kh, kw,
      tapsH: kh, tapsW: kw, kh0: 0, kw0: 0, khStep: 1, kwStep: 1, transposed: false,
    });
    let matrix: Tensor | null = null;
    if (oneByOne) {
      matrix = output(rt, [o, cinG]);
      rt.copy(weight.buffer, 0, matrix.buffer, 0, o * cinG * 4);
    }
    return new PackedConv2d([o, cinG, kh, kw], groups, stride, dilation, padding, packed, packBias(rt, op, bias, o), matrix);
  });
}

// ---- conv2d ----

/** A conv2d problem: what decides the variants that apply. */
interface Problem {
  rt: Runtime;
  packed: PackedConv2d;
  g: ConvGeometry;
  outShape: [number, number, number, number];
  epilogue: ResolvedEpilogue;
}

function makeProblem(rt: Runtime, inputShape: readonly number[], packed: PackedConv2d, options: ConvEpilogue): Problem {
  const outShape = packed.outputShape(inputShape);
  const [n, c, h, w] = inputShape as [number, number, number, number];
  const [o, cinG, kh, kw] = packed.weightShape;
  const g: ConvGeometry = {
    n, c, h, w, o, ho: outShape[2], wo: outShape[3], cin_g: cinG, cout_g: o / packed.groups, kh, kw,
    sh: packed.stride[0], sw: packed.stride[1], dh: packed.dilation[0], dw: packed.dilation[1],
    pt: packed.padding.top, pl: packed.padding.left,
  };
  return { rt, packed, g, outShape, epilogue: resolveEpilogue(rt, 'conv2d', options, outShape) };
}

/**
 * The variants that apply, best first (see {@link kernelVariants}). 1x1 layers also go to gemm: first on GPUs,
 * after the direct kernels on CPU adapters, where the conv kernels measured as fast or faster.
 */
function eligible(p: Problem): Conv2dVariant[] {
  const kernels: Conv2dVariant[] = kernelVariants(p.rt, p.g);
  if (p.packed.matrix === null || p.epilogue.gemm === null) return kernels;
  if (!isCpuAdapter(p.rt)) return ['matmul', ...kernels];
  const after = kernels.indexOf('direct') + 1;
  return [...kernels.slice(0, after), 'matmul', ...kernels.slice(after)];
}

function runVariant(p: Problem, input: Tensor, v: Conv2dVariant): Tensor {
  if (v === 'matmul') {
    const { n, c, h, w, o } = p.g;
    const product = gemm(p.rt, {
      a: p.packed.matrix!, b: input, m: o, n: h * w, k: c, batch: [n], aBatchStrides: [0],
      bias: p.packed.bias, biasAlong: 'm', activation: p.epilogue.gemm!, negativeSlope: p.epilogue.alpha,
      label: 'conv2d:matmul',
    });
    const y = product.reshape(p.outShape);
    product.dispose();
    return y;
  }
  const out = output(p.rt, p.outShape);
  const packed = p.packed;
  launch({
    rt: p.rt, input, weights: packed.weights.buffer, halfWeights: () => packed.halfWeights(p.rt).buffer, bias: packed.bias,
    g: p.g, map: denseMap(p.g), epilogue: p.epilogue, out, label: `conv2d:${v}`,
  }, v);
  return out;
}

function problemKey(p: Problem): string {
  const k = p.packed;
  return `[${p.g.n}, ${p.g.c}, ${p.g.h}, ${p.g.w}] w${formatShape(k.weightShape)} g${k.groups} s${k.stride.join('x')} d${k.dilation.join('x')} ` +
    `p${k.padding.top},${k.padding.bottom},${k.padding.left},${k.padding.right}`;
}

/** The variants that apply to an input shape and packed layer, best first by the fixed (untuned) rule. */
export function conv2dVariants(rt: Runtime, inputShape: readonly number[], packed: PackedConv2d, options: ConvEpilogue = {}): Conv2dVariant[] {
  return eligible(makeProblem(rt, inputShape, packed, options));
}

/**
 * `F.conv2d` with a packed layer (see {@link packConv2dWeight}) and a fused epilogue: input (N, C, H, W) →
 * (N, O, Ho, Wo), or unbatched (C, H, W) → (O, Ho, Wo). Uses the variant {@link tuneConv2d} measured for this
 * problem, else the fixed order.
 */
export function conv2dPacked(rt: Runtime, input: Tensor, packed: PackedConv2d, options: Conv2dPackedOptions = {}): Tensor {
  return unbatched(input, options, (x, o) => conv2dBatched(rt, x, packed, o));
}

function conv2dBatched(rt: Runtime, input: Tensor, packed: PackedConv2d, options: Conv2dPackedOptions): Tensor {
  expectSameEngine(rt, 'conv2d', input, packed.weights);
  expectF32('conv2d', { name: 'input', tensor: input });
  const p = makeProblem(rt, input.shape, packed, options);
  if (p.outShape.includes(0)) return output(rt, p.outShape);
  const list = eligible(p);
  const forced = options.variant;
  if (forced && !list.includes(forced)) {
    throw new ShapeError(`conv2d: variant '${forced}' does not apply to input ${formatShape(input.shape)} with weight ${formatShape(packed.weightShape)} on this device (eligible: ${list.join(', ')})`);
  }
  const measure = convTuneJob(rt, packed.weights, options, (epilogue) => tuneConv2d(rt, input.shape, packed, epilogue));
  return runVariant(p, input, forced ?? pickVariant(rt, tuneKey(rt, 'conv2d', problemKey(p)), list, measure));
}

/**
 * `torch.nn.functional.conv2d(input, weight, bias, stride, padding, dilation, groups)` plus a fused
 * epilogue. input (N, C, H, W) or (C, H, W); weight (O, C/groups, KH, KW); bias (O). Packs the weight on the fly; layers
 * that run more than once should pack once with {@link packConv2dWeight}.
 */
export function conv2d(rt: Runtime, input: Tensor, weight: Tensor, bias?: Tensor | null, options: Conv2dOptions = {}): Tensor {
  const packed = packConv2dWeight(rt, weight, { ...options, bias });
  try {
    return conv2dPacked(rt, input, packed, options);
  } finally {
    packed.dispose();
  }
}

/**
 * Measures every eligible variant on this problem (input shape, packed layer, epilogue) and remembers the
 * fastest for later {@link conv2dPacked} calls; models call it at load time. Returns the winner.
 */
export async function tuneConv2d(rt: Runtime, inputShape: readonly number[], packed: PackedConv2d, options: ConvEpilogue = {}): Promise<Conv2dVariant> {
  // An unbatched shape runs as a batch of one, under the same key as the eager call's.
  const shape = inputShape.length === 3 ? [1, ...inputShape] : inputShape;
  const p = makeProblem(rt, shape, packed, options);
  const input = zeros(rt, shape);
  try {
    // f16 weights change the result's precision: measured only as an explicit choice (`variant`), never picked here.
    const candidates = eligible(p).filter((v) => !v.endsWith('f16')).map((v) => ({ name: v, run: () => runVariant(p, input, v).dispose() }));
    return (await tune(rt, tuneKey(rt, 'conv2d', problemKey(p)), candidates)) as Conv2dVariant;
  } finally {
    input.dispose();
  }
}
