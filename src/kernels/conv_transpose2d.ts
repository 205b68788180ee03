/**
 * Transposed 2-D convolution (`F.conv_transpose2d` semantics on NCHW tensors) by sub-pixel decomposition,
 * with the fused epilogue of conv2d.ts.
 *
 * For a stride s, the outputs congruent to (rh, rw) modulo s form a phase that meets only the kernel taps
 * with (k·d − rh − p) ≡ 0 (mod s); each phase is therefore a dense stride-1 convolution of the input with a
 * small kernel, and no zeros are inserted. {@link packConvTranspose2dWeight} repacks PyTorch's
 * (C_in, O/groups, KH, KW) weight once into one block per phase holding exactly that phase's taps (in the
 * conv2d kernels' layout), plus a table of the phases. Variants:
 * - `subpixel`: conv_transpose2d_subpixel.wgsl, every phase in one dispatch;
 * - `phase-<kernel>`: one dispatch per phase of a conv2d kernel (subgroup, direct, igemm, direct-f16) that
 *   writes the phase's pixels straight into the output.
 */
import subpixelCode from '../../shaders/conv_transpose2d_subpixel.wgsl?raw';
import { ShapeError } from '../errors';
import type { Runtime } from '../gpu/runtime';
import { shader } from '../gpu/shader';
import { formatShape } from '../tensor/shape';
import { Tensor } from '../tensor/tensor';
import { pickVariant, tune, tuneKey } from './autotune';
import { expectF32, expectSameEngine, output, zeros } from './common';
import {
  epilogueArgs, halfCopy, kernelVariants, launch, packBias, packBlock, paddedChannels, pairOf, resolveEpilogue, unbatched, untracked,
  workgroupFor, convTuneJob, type ConvEpilogue, type ConvGeometry, type KernelVariant, type Pair, type ResolvedEpilogue,
} from './conv_kernels';

const SUBPIXEL = shader('conv_transpose2d_subpixel.wgsl', subpixelCode);

/** `F.conv_transpose2d`'s geometry arguments. */
export interface ConvTranspose2dGeometry {
  stride?: Pair;
  padding?: Pair;
  /** Extra rows/columns at the end of the output; each must be smaller than the stride or the dilation. */
  outputPadding?: Pair;
  groups?: number;
  dilation?: Pair;
}

export type ConvTranspose2dVariant = 'subpixel' | `phase-${KernelVariant}`;

/** Options of {@link convTranspose2d}. */
export interface ConvTranspose2dOptions extends ConvTranspose2dGeometry, ConvEpilogue {
  variant?: ConvTranspose2dVariant;
}

/** Options of {@link convTranspose2dPacked}: the geometry was fixed when packing. */
export interface ConvTranspose2dPackedOptions extends ConvEpilogue {
  variant?: ConvTranspose2dVariant;
}

/**
 * The taps of one phase along one dim, in the order of the input rows they read: output u of the phase reads
 * input u − pad + j·(d / gcd(s, d)) with kernel index first + j·step (step < 0: later rows, earlier taps).
 */
interface PhaseTaps {
  count: number;
  first: number;
  step: number;
  pad: number;
}

/** One output phase of a packed layer. */
export interface Phase {
  rh: number;
  rw: number;
  rows: PhaseTaps;
  cols: PhaseTaps;
  /** First element of its weight block (a multiple of 128, so any binding offset is aligned) and its size. */
  offset: number;
  count: number;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * The taps of each output residue 0 … s−1 along one dim. Output o = residue + s·u meets kernel index k when
 * o + p − k·d ≡ 0 (mod s), reading input (o + p − k·d) / s.
 */
function phaseTaps(stride: number, dilation: number, padding: number, kernel: number): PhaseTaps[] {
  return Array.from({ length: stride }, (_, residue) => {
    const r = (residue + padding) % stride;
    const taps: number[] = [];
    for (let k = 0; k < kernel; k++) if ((((k * dilation - r) % stride) + stride) % stride === 0) taps.push(k);
    const last = taps[taps.length - 1] ?? 0;
    // Tap `last` reads the lowest input row: u − pad. (A phase without taps writes bias alone.)
    const pad = taps.length > 0 ? (last * dilation - residue - padding) / stride : 0;
    return { count: taps.length, first: last, step: -stride / gcd(stride, dilation), pad };
  });
}

/** Packed weight blocks start at multiples of this many elements: 512 bytes in f32, 256 in f16. */
const BLOCK_ALIGN = 128;

/** A conv_transpose2d layer's weights split by output phase, with its geometry. Build with {@link packConvTranspose2dWeight}. */
export class PackedConvTranspose2d {
  private half: Tensor | null = null;

  /** @internal Use {@link packConvTranspose2dWeight}. */
  constructor(
    /** (C_in, O/groups, KH, KW), as the PyTorch weight. */
    readonly weightShape: readonly [number, number, number, number],
    readonly groups: number,
    readonly stride: readonly [number, number],
    readonly padding: readonly [number, number],
    readonly outputPadding: readonly [number, number],
    readonly dilation: readonly [number, number],
    /** Per phase (rh, rw), row-major: (taps_h, taps_w, C_in/groups, Opad), output channels contiguous. */
    readonly weights: Tensor,
    readonly phaseList: readonly Phase[],
    /** The phases for the subpixel shader, two vec4<i32> each: (rh, rw, taps_h, taps_w), (pad_h, pad_w, vec4 offset of its weights, 0). */
    readonly phaseTable: Tensor,
    /** (O). */
    readonly bias: Tensor,
  ) {}

  get outChannels(): number {
    return this.weightShape[1] * this.groups;
  }

  /** The weights again as f16 (for `phase-direct-f16`), made on first use. */
  halfWeights(rt: Runtime): Tensor {
    this.half ??= halfCopy(rt, this.weights);
    return this.half;
  }

  /** The output shape for an input shape, or a ShapeError naming both. */
  outputShape(input: readonly number[], op = 'convTranspose2d'): [number, number, number, number] {
    const [cin, , kh, kw] = this.weightShape;
    if (input.length !== 4) throw new ShapeError(`${op}: input must be (N, C_in, H, W) or (C_in, H, W), got ${formatShape(input)}`);
    const [n, c, h, w] = input as [number, number, number, number];
    if (c !== cin) throw new ShapeError(`${op}: input ${formatShape(input)} has ${c} channels but weight ${formatShape(this.weightShape)} expects ${cin}`);
    const ho = (h - 1) * this.stride[0] - 2 * this.padding[0] + this.dilation[0] * (kh - 1) + this.outputPadding[0] + 1;
    const wo = (w - 1) * this.stride[1] - 2 * this.padding[1] + this.dilation[1] * (kw - 1) + this.outputPadding[1] + 1;
    if (ho <= 0 || wo <= 0) {
      throw new ShapeError(`${op}: output size ${ho}x${wo} is not positive (input ${formatShape(input)}, weight ${formatShape(this.weightShape)}, stride ${formatShape(this.stride)}, padding ${formatShape(this.padding)})`);
    }
    return [n, this.outChannels, ho, wo];
  }

  dispose(): void {
    this.weights.dispose();
    this.phaseTable.dispose();
    this.bias.dispose();
    this.half?.dispose();
  }
}

/**
 * Packs a PyTorch conv_transpose2d weight (C_in, O/groups, KH, KW) and bias (O) with the layer's geometry,
 * once: one weight block per output phase holding only that phase's taps. Use with {@link convTranspose2dPacked}.
 */
export function packConvTranspose2dWeight(rt: Runtime, weight: Tensor, options: ConvTranspose2dGeometry & { bias?: Tensor | null } = {}): PackedConvTranspose2d {
  const op = 'convTranspose2d';
  expectSameEngine(rt, op, weight);
  expectF32(op, { name: 'weight', tensor: weight });
  if (weight.rank !== 4) throw new ShapeError(`${op}: weight must be 4-D (C_in, O/groups, KH, KW), got ${formatShape(weight.shape)}`);
  const [cin, coutG, kh, kw] = weight.shape as [number, number, number, number];
  if (cin === 0 || coutG === 0 || kh === 0 || kw === 0) throw new ShapeError(`${op}: weight ${formatShape(weight.shape)} has an empty dim`);
  const groups = options.groups ?? 1;
  if (!Number.isSafeInteger(groups) || groups < 1) throw new ShapeError(`${op}: groups must be a positive integer, got ${groups}`);
  if (cin % groups !== 0) throw new ShapeError(`${op}: in channels ${cin} (weight ${formatShape(weight.shape)}) not divisible by groups=${groups}`);
  const o = coutG * groups;
  const bias = options.bias;
  if (bias && (bias.rank !== 1 || bias.shape[0] !== o)) {
    throw new ShapeError(`${op}: bias ${formatShape(bias.shape)} must be [${o}] (weight ${formatShape(weight.shape)}, groups=${groups})`);
  }
  const stride = pairOf(op, 'stride', options.stride, 1, 1);
  const padding = pairOf(op, 'padding', options.padding, 0, 0);
  const outputPadding = pairOf(op, 'outputPadding', options.outputPadding, 0, 0);
  const dilation = pairOf(op, 'dilation', options.dilation, 1, 1);
  for (const d of [0, 1]) {
    if (outputPadding[d]! >= stride[d]! && outputPadding[d]! >= dilation[d]!) {
      throw new ShapeError(`${op}: outputPadding ${formatShape(outputPadding)} must be smaller than either stride ${formatShape(stride)} or dilation ${formatShape(dilation)}`);
    }
  }

  const rows = phaseTaps(stride[0], dilation[0], padding[0], kh);
  const cols = phaseTaps(stride[1], dilation[1], padding[1], kw);
  const cinG = cin / groups;
  const opad = paddedChannels(o);
  const phases: Phase[] = [];
  let total = 0;
  rows.forEach((r, rh) => {
    cols.forEach((c, rw) => {
      const count = r.count * c.count * cinG * opad;
      phases.push({ rh, rw, rows: r, cols: c, offset: total, count });
      total += Math.ceil(count / BLOCK_ALIGN) * BLOCK_ALIGN;
    });
  });
  const table = phases.flatMap((ph) => [ph.rh, ph.rw, ph.rows.count, ph.cols.count, ph.rows.pad, ph.cols.pad, ph.offset / 4, 0]);
  return untracked(() => {
    const packed = Tensor.empty(rt, [Math.max(total, BLOCK_ALIGN)]);
    for (const ph of phases) {
      packBlock(rt, weight, packed, false, {
        count: ph.count, dst: ph.offset, o, opad, cinG, coutG, kh, kw,
        tapsH: ph.rows.count, tapsW: ph.cols.count, kh0: ph.rows.first, kw0: ph.cols.first,
        khStep: ph.rows.step, kwStep: ph.cols.step, transposed: true,
      });
    }
    const phaseTable = Tensor.fromData(rt, Int32Array.from(table), [table.length], 'i32');
    return new PackedConvTranspose2d(
      [cin, coutG, kh, kw], groups, stride, padding, outputPadding, dilation, packed, phases, phaseTable, packBias(rt, op, bias, o),
    );
  });
}

// ---- variants ----

interface Problem {
  rt: Runtime;
  inputShape: readonly number[];
  packed: PackedConvTranspose2d;
  outShape: [number, number, number, number];
  epilogue: ResolvedEpilogue;
}

/** A phase as a stride-1 convolution writing every stride-th output pixel, or null if it has no pixels. */
function phaseGeometry(p: Problem, ph: Phase): ConvGeometry | null {
  const [n, c, h, w] = p.inputShape as [number, number, number, number];
  const [, o, ho, wo] = p.outShape;
  const k = p.packed;
  const [sh, sw] = k.stride;
  const phaseH = Math.ceil((ho - ph.rh) / sh);
  const phaseW = Math.ceil((wo - ph.rw) / sw);
  if (phaseH <= 0 || phaseW <= 0) return null;
  return {
    n, c, h, w, o, ho: phaseH, wo: phaseW, cin_g: c / k.groups, cout_g: k.weightShape[1], kh: ph.rows.count, kw: ph.cols.count,
    sh: 1, sw: 1, dh: k.dilation[0] / gcd(sh, k.dilation[0]), dw: k.dilation[1] / gcd(sw, k.dilation[1]), pt: ph.rows.pad, pl: ph.cols.pad,
  };
}

/** Phases without taps write only bias and activation; the direct kernel does that with no weights. */
const hasTaps = (g: ConvGeometry) => g.kh > 0 && g.kw > 0;

function runSubpixel(p: Problem, input: Tensor, out: Tensor): void {
  const [n, ch, h, w] = p.inputShape as [number, number, number, number];
  const [, o, ho, wo] = p.outShape;
  const k = p.packed;
  const [sh, sw] = k.stride;
  const coutG = k.weightShape[1];
  const ocv = o <= 4 ? 1 : 2;
  const uh = Math.ceil(ho / sh);
  const uw = Math.ceil(wo / sw);
  const rowBlocks = Math.ceil(uw / 4); // 4 outputs per invocation, fixed in the shader
  const blocks = n * uh * rowBlocks;
  const wg = workgroupFor(blocks, 8);
  const ocBlocks = Math.ceil(o / (4 * ocv));
  const tiles = Math.ceil(blocks / wg);
  const e = epilogueArgs(p.epilogue, input.buffer, k.bias);
  p.rt.dispatch({
    shader: SUBPIXEL,
    overrides: { WG: wg, OCV: ocv, GROUPED: k.groups > 1 && coutG % (4 * ocv) !== 0, ...e.overrides },
    uniforms: {
      n, c: ch, h, w, o, ho, wo, opad4: paddedChannels(o) / 4,
      cin_g: ch / k.groups, cout_g: coutG, sh, sw,
      dh: k.dilation[0] / gcd(sh, k.dilation[0]), dw: k.dilation[1] / gcd(sw, k.dilation[1]),
      uh, uw, row_blocks: rowBlocks, blocks, oc_blocks: ocBlocks, tiles,
      ...e.uniforms,
    },
    bindings: { x: input.buffer, w: k.weights.buffer, phases: k.phaseTable.buffer, ...e.bindings, y: out.buffer },
    workgroups: sh * sw * tiles * ocBlocks,
    label: 'convTranspose2d:subpixel',
  });
}

function runPhases(p: Problem, input: Tensor, out: Tensor, kernel: KernelVariant): void {
  const k = p.packed;
  for (const ph of k.phaseList) {
    const g = phaseGeometry(p, ph);
    if (!g) continue;
    const taps = hasTaps(g);
    launch({
      rt: p.rt,
      input,
      weights: taps ? { buffer: k.weights.buffer, offset: ph.offset * 4, size: ph.count * 4 } : k.weights.buffer,
      halfWeights: () => ({ buffer: k.halfWeights(p.rt).buffer, offset: ph.offset * 2, size: ph.count * 2 }),
      bias: k.bias,
      g,
      map: { out_h: p.outShape[2], out_w: p.outShape[3], out_sh: k.stride[0], out_sw: k.stride[1], out_oh: ph.rh, out_ow: ph.rw },
      epilogue: p.epilogue,
      out,
      label: `convTranspose2d:phase-${kernel}`,
    }, taps ? kernel : 'direct');
  }
}

function runVariant(p: Problem, input: Tensor, v: ConvTranspose2dVariant): Tensor {
  const out = output(p.rt, p.outShape);
  if (v === 'subpixel') runSubpixel(p, input, out);
  else runPhases(p, input, out, v.slice('phase-'.length) as KernelVariant);
  return out;
}

/**
 * The variants that apply, best first by the fixed (untuned) rule: the conv2d kernels' own order
 * ({@link kernelVariants}) run per phase, with the one-dispatch subpixel kernel second. A kernel applies when
 * it applies to every phase that has taps.
 */
function eligible(p: Problem): ConvTranspose2dVariant[] {
  const geometries = p.packed.phaseList.map((ph) => phaseGeometry(p, ph)).filter((g): g is ConvGeometry => g !== null && hasTaps(g));
  const perPhase = geometries.map((g) => kernelVariants(p.rt, g));
  const common = (perPhase[0] ?? ['direct']).filter((v) => perPhase.every((list) => list.includes(v)));
  const phases = common.map((v) => `phase-${v}` as const);
  return [...phases.slice(0, 1), 'subpixel', ...phases.slice(1)];
}

function makeProblem(rt: Runtime, inputShape: readonly number[], packed: PackedConvTranspose2d, options: ConvEpilogue): Problem {
  const outShape = packed.outputShape(inputShape);
  return { rt, inputShape, packed, outShape, epilogue: resolveEpilogue(rt, 'convTranspose2d', options, outShape) };
}

function problemKey(p: Problem): string {
  const k = p.packed;
  return `${formatShape(p.inputShape)} w${formatShape(k.weightShape)} g${k.groups} s${k.stride.join('x')} d${k.dilation.join('x')} ` +
    `p${k.padding.join('x')} op${k.outputPadding.join('x')}`;
}

/** The variants that apply to an input shape and packed layer, best first by the fixed (untuned) rule. */
export function convTranspose2dVariants(rt: Runtime, inputShape: readonly number[], packed: PackedConvTranspose2d, options: ConvEpilogue = {}): ConvTranspose2dVariant[] {
  return eligible(makeProblem(rt, inputShape, packed, options));
}

/**
 * `F.conv_transpose2d` with a packed layer (see {@link packConvTranspose2dWeight}) and a fused epilogue:
 * input (N, C_in, H, W) → (N, O, Ho, Wo), or unbatched (C_in, H, W) → (O, Ho, Wo). Uses the variant {@link tuneConvTranspose2d} measured, else the fixed order.
 */
export function convTranspose2dPacked(rt: Runtime, input: Tensor, packed: PackedConvTranspose2d, options: ConvTranspose2dPackedOptions = {}): Tensor {
  return unbatched(input, options, (x, o) => convTranspose2dBatched(rt, x, packed, o));
}

function convTranspose2dBatched(rt: Runtime, input: Tensor, packed: PackedConvTranspose2d, options: ConvTranspose2dPackedOptions): Tensor {
  expectSameEngine(rt, 'convTranspose2d', input, packed.weights);
  expectF32('convTranspose2d', { name: 'input', tensor: input });
  const p = makeProblem(rt, input.shape, packed, options);
  if (p.outShape.includes(0)) return output(rt, p.outShape);
  const list = eligible(p);
  const forced = options.variant;
  if (forced && !list.includes(forced)) {
    throw new ShapeError(`convTranspose2d: variant '${forced}' does not apply to input ${formatShape(input.shape)} with weight ${formatShape(packed.weightShape)} on this device (eligible: ${list.join(', ')})`);
  }
  const measure = convTuneJob(rt, packed.weights, options, (epilogue) => tuneConvTranspose2d(rt, input.shape, packed, epilogue));
  return runVariant(p, input, forced ?? pickVariant(rt, tuneKey(rt, 'convTranspose2d', problemKey(p)), list, measure));
}

/**
 * `torch.nn.functional.conv_transpose2d(input, weight, bias, stride, padding, output_padding, groups,
 * dilation)` plus a fused epilogue. input (N, C_in, H, W) or (C_in, H, W); weight (C_in, O/groups, KH, KW); bias (O).
 * Packs on the fly; layers that run more than once should pack once with {@link packConvTranspose2dWeight}.
 */
export function convTranspose2d(rt: Runtime, input: Tensor, weight: Tensor, bias?: Tensor | null, options: ConvTranspose2dOptions = {}): Tensor {
  const packed = packConvTranspose2dWeight(rt, weight, { ...options, bias });
  try {
    return convTranspose2dPacked(rt, input, packed, options);
  } finally {
    packed.dispose();
  }
}

/** Measures the eligible variants on this problem and remembers the fastest; models call it at load time. */
export async function tuneConvTranspose2d(rt: Runtime, inputShape: readonly number[], packed: PackedConvTranspose2d, options: ConvEpilogue = {}): Promise<ConvTranspose2dVariant> {
  // An unbatched shape runs as a batch of one, under the same key as the eager call's.
  const shape = inputShape.length === 3 ? [1, ...inputShape] : inputShape;
  const p = makeProblem(rt, shape, packed, options);
  const input = zeros(rt, shape);
  try {
    // f16 weights change the result's precision: measured only as an explicit choice (`variant`), never picked here.
    const candidates = eligible(p).filter((v) => !v.endsWith('f16')).map((v) => ({ name: v, run: () => runVariant(p, input, v).dispose() }));
    return (await tune(rt, tuneKey(rt, 'convTranspose2d', problemKey(p)), candidates)) as ConvTranspose2dVariant;
  } finally {
    input.dispose();
  }
}
