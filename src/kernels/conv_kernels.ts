/**
 * What conv2d.ts and conv_transpose2d.ts share: argument parsing, the fused epilogue, weight packing
 * (conv_pack.wgsl) and the convolution kernels themselves, launched on an explicit geometry and output map so
 * that a transposed convolution's phases run through the same kernels as a plain convolution.
 *
 * Kernels (each a WGSL file): `subgroup` (register-blocked across a subgroup with shuffles, stride_w 1; the
 * fast path on lavapipe), `direct` (register-blocked per invocation, every geometry), `depthwise` (one input
 * channel per output channel, stride_w and dilation_w 1), `igemm` (implicit GEMM tiled in workgroup memory;
 * real GPUs), `direct-f16` (`direct` reading f16 weights).
 */
import depthwiseCode from '../../shaders/conv2d_depthwise.wgsl?raw';
import directCode from '../../shaders/conv2d_direct.wgsl?raw';
import igemmCode from '../../shaders/conv2d_igemm.wgsl?raw';
import packCode from '../../shaders/conv_pack.wgsl?raw';
import subgroupCode from '../../shaders/conv2d_direct_subgroup.wgsl?raw';
import { ShapeError, SyntheError } from '../errors';
import type { BufferBinding, Runtime } from '../gpu/runtime';
import { shader, type Shader } from '../gpu/shader';
import type { UniformValues } from '../gpu/reflect';
import { formatShape } from '../tensor/shape';
import { Tensor } from '../tensor/tensor';
import { expectF32, expectFinite, expectSameEngine, linearWorkgroups, output, zeros } from './common';
import type { GemmActivation } from './matmul';

const DIRECT = shader('conv2d_direct.wgsl', directCode);
const DIRECT_F16 = shader('conv2d_direct.wgsl', directCode, { elem: 'f16' });
const SUBGROUP = shader('conv2d_direct_subgroup.wgsl', subgroupCode);
const DEPTHWISE = shader('conv2d_depthwise.wgsl', depthwiseCode);
const IGEMM = shader('conv2d_igemm.wgsl', igemmCode);
const PACK = shader('conv_pack.wgsl', packCode);

// ---- arguments and epilogue ----

/** One value for both spatial dims, or [height, width]. */
export type Pair = number | readonly [number, number];

/** Activation codes of the conv shaders' `ACT` override. */
export const CONV_ACTIVATIONS = { none: 0, relu: 1, leakyRelu: 2, silu: 3, gelu: 4, geluTanh: 5, tanh: 6, sigmoid: 7, prelu: 8 } as const;

/** An activation fused into a convolution. */
export interface Activation {
  kind: 'relu' | 'leakyRelu' | 'silu' | 'gelu' | 'tanh' | 'sigmoid' | 'prelu';
  /** leakyRelu's negative slope; default 0.01. */
  slope?: number;
  /** prelu's slopes: 1 value or one per output channel. */
  weight?: Tensor;
  /** gelu's form, as `F.gelu(approximate=)`; default 'none' (erf). */
  approximate?: 'none' | 'tanh';
}

/**
 * What a convolution applies to its sums before storing them, in this order:
 * `y = activation(conv + bias) · outputScale + residualScale · residual`.
 * ESRGAN's `x + 0.2 · f(x)` is `{ residual: x, outputScale: 0.2 }`.
 */
export interface ConvEpilogue {
  activation?: Activation;
  /** A tensor of the output's shape, added last. */
  residual?: Tensor;
  /** Multiplies the activated result; default 1. */
  outputScale?: number;
  /** Multiplies the residual; default 1. */
  residualScale?: number;
}

/** Parses a Pair argument: non-negative (or positive) integers. */
export function pairOf(op: string, name: string, value: Pair | undefined, fallback: number, min: number): [number, number] {
  const v = value ?? fallback;
  const pair: [number, number] = typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if ((typeof v !== 'number' && v.length !== 2) || !pair.every((d) => Number.isSafeInteger(d) && d >= min)) {
    throw new ShapeError(`${op}: ${name} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(value)}`);
  }
  return pair;
}

/** The epilogue as a kernel needs it: override values, uniform values and the buffers to bind. */
export interface ResolvedEpilogue {
  act: number;
  /** The gemm activation when the epilogue is one gemm can fuse (no prelu, residual or output scale). */
  gemm: GemmActivation | null;
  alpha: number;
  outScale: number;
  resScale: number;
  slopes: Tensor | null;
  residual: Tensor | null;
}

/** Checks and resolves an epilogue for an output of `outShape` with `channels` channels. */
export function resolveEpilogue(rt: Runtime, op: string, e: ConvEpilogue, outShape: readonly number[]): ResolvedEpilogue {
  const channels = outShape[1]!;
  const a = e.activation;
  const outScale = e.outputScale ?? 1;
  const resScale = e.residualScale ?? 1;
  expectFinite(op, 'outputScale', outScale);
  expectFinite(op, 'residualScale', resScale);
  let act: number = CONV_ACTIVATIONS.none;
  let alpha = 0;
  let slopes: Tensor | null = null;
  if (a) {
    switch (a.kind) {
      case 'relu':
      case 'silu':
      case 'tanh':
      case 'sigmoid':
        act = CONV_ACTIVATIONS[a.kind];
        break;
      case 'leakyRelu':
        act = CONV_ACTIVATIONS.leakyRelu;
        alpha = a.slope ?? 0.01;
        expectFinite(op, 'activation.slope', alpha);
        break;
      case 'gelu':
        if (a.approximate !== undefined && a.approximate !== 'none' && a.approximate !== 'tanh') {
          throw new ShapeError(`${op}: activation.approximate must be 'none' or 'tanh', got '${String(a.approximate)}'`);
        }
        act = a.approximate === 'tanh' ? CONV_ACTIVATIONS.geluTanh : CONV_ACTIVATIONS.gelu;
        break;
      case 'prelu': {
        const w = a.weight;
        if (!w) throw new ShapeError(`${op}: activation 'prelu' needs a weight tensor (1 or ${channels} slopes)`);
        expectSameEngine(rt, op, w);
        expectF32(op, { name: 'activation.weight', tensor: w });
        if (w.size !== 1 && w.size !== channels) {
          throw new ShapeError(`${op}: prelu weight ${formatShape(w.shape)} must hold 1 or ${channels} (output channels) values`);
        }
        act = CONV_ACTIVATIONS.prelu;
        slopes = w;
        break;
      }
      default:
        throw new ShapeError(`${op}: unknown activation kind '${String((a as { kind: unknown }).kind)}'`);
    }
  }
  const residual = e.residual ?? null;
  if (residual) {
    expectSameEngine(rt, op, residual);
    expectF32(op, { name: 'residual', tensor: residual });
    if (residual.rank !== outShape.length || residual.shape.some((d, i) => d !== outShape[i])) {
      throw new ShapeError(`${op}: residual ${formatShape(residual.shape)} must have the output's shape ${formatShape(outShape)}`);
    }
  }
  const fusable = !residual && outScale === 1 && act !== CONV_ACTIVATIONS.prelu;
  const gemmName = (Object.keys(CONV_ACTIVATIONS) as (keyof typeof CONV_ACTIVATIONS)[]).find((k) => CONV_ACTIVATIONS[k] === act);
  return {
    act,
    gemm: fusable ? (gemmName as GemmActivation) : null,
    alpha,
    outScale,
    resScale,
    slopes,
    residual,
  };
}

/** Overrides, uniform values and bindings every conv shader's epilogue takes. */
export function epilogueArgs(e: ResolvedEpilogue, fallback: GPUBuffer, bias: Tensor) {
  return {
    overrides: { ACT: e.act, HAS_RESIDUAL: e.residual !== null },
    uniforms: { alpha: e.alpha, out_scale: e.outScale, res_scale: e.resScale, slopes: e.slopes?.size ?? 1 },
    // Unused bindings still need a buffer; read-only ones that are bound already serve.
    bindings: { bias: bias.buffer, slope: e.slopes?.buffer ?? bias.buffer, residual: e.residual?.buffer ?? fallback },
  };
}

/**
 * Runs `fn` outside any `tidy` scope: packed weights belong to their layer object, which a scope cannot see
 * into, so they must not be freed when the scope that happened to create them ends.
 */
export function untracked<T>(fn: () => T): T {
  const scope = Tensor.scope;
  Tensor.scope = null;
  try {
    return fn();
  } finally {
    Tensor.scope = scope;
  }
}

/** Output channels rounded up to whole vec4s: the packed weight's row length. */
export function paddedChannels(o: number): number {
  return Math.ceil(o / 4) * 4;
}

/** Whether the adapter is a CPU emulation (lavapipe, SwiftShader), where barriers cost more than they save. */
export function isCpuAdapter(rt: Runtime): boolean {
  const { isFallbackAdapter, vendor, architecture, device, description } = rt.ctx.info;
  return isFallbackAdapter || /llvmpipe|lavapipe|swiftshader|software/i.test(`${vendor} ${architecture} ${device} ${description}`);
}

/** The device's subgroup size when it is fixed (the subgroup kernels are written for one size), else 0. */
export function fixedSubgroupSize(rt: Runtime): number {
  if (!rt.ctx.features.subgroups) return 0;
  const info = rt.device.adapterInfo as (GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number }) | undefined;
  const min = info?.subgroupMinSize ?? 0;
  return min > 0 && min === info?.subgroupMaxSize ? min : 0;
}

/** Writes one packed block of a weight with conv_pack.wgsl (f32, or f16 into a u16 buffer). */
export function packBlock(
  rt: Runtime,
  source: Tensor,
  target: Tensor,
  f16: boolean,
  block: {
    count: number; dst: number; o: number; opad: number; cinG: number; coutG: number; kh: number; kw: number;
    tapsH: number; tapsW: number; kh0: number; kw0: number; khStep: number; kwStep: number; transposed: boolean;
  },
): void {
  if (block.count === 0) return;
  rt.dispatch({
    shader: PACK,
    entry: f16 ? 'pack_f16' : 'pack',
    uniforms: {
      count: block.count, dst: block.dst, o: block.o, opad: block.opad, cin_g: block.cinG, cout_g: block.coutG,
      kh: block.kh, kw: block.kw, taps_h: block.tapsH, taps_w: block.tapsW, kh0: block.kh0, kw0: block.kw0,
      kh_step: block.khStep, kw_step: block.kwStep, transposed: Number(block.transposed),
    },
    bindings: f16 ? { w: source.buffer, out16: target.buffer } : { w: source.buffer, out: target.buffer },
    workgroups: linearWorkgroups(f16 ? block.count / 2 : block.count, 1),
    label: 'conv_pack',
  });
}

/**
 * An f16 copy of a packed weight (the packed f32 layout, already padded, converted element by element). Layers
 * make it on first use; inside a plan recording it would land in (and die with) the plan's memory.
 */
export function halfCopy(rt: Runtime, packed: Tensor): Tensor {
  if (rt.recording) {
    throw new SyntheError('the f16 weights of this conv layer are made on first use, which cannot happen while recording a plan: run or tune the layer once before recording');
  }
  return untracked(() => {
    const half = Tensor.empty(rt, packed.shape, 'f16');
    // As a "transposed" block with one tap, one group and Opad = O = every element, the pack is the identity.
    packBlock(rt, packed, half, true, {
      count: packed.size, dst: 0, o: 4, opad: 4, cinG: packed.size / 4, coutG: 4, kh: 1, kw: 1,
      tapsH: 1, tapsW: 1, kh0: 0, kw0: 0, khStep: 1, kwStep: 1, transposed: true,
    });
    return half;
  });
}

/** A bias of `o` values: a copy of `bias`, or zeros. */
export function packBias(rt: Runtime, op: string, bias: Tensor | null | undefined, o: number): Tensor {
  if (!bias) return Tensor.fromData(rt, new Float32Array(o), [o]);
  expectSameEngine(rt, op, bias);
  expectF32(op, { name: 'bias', tensor: bias });
  const copy = output(rt, [o]);
  rt.copy(bias.buffer, 0, copy.buffer, 0, o * 4);
  return copy;
}

/**
 * Runs a batched op on an unbatched (C, H, W) input as PyTorch does: as a batch of one (a residual of the
 * unbatched output's shape viewed the same way), returning the result without the batch dim.
 */
export function unbatched<T extends ConvEpilogue>(input: Tensor, options: T, run: (input: Tensor, options: T) => Tensor): Tensor {
  if (input.rank !== 3) return run(input, options);
  const views = [input.reshape([1, ...input.shape])];
  if (options.residual?.rank === 3) views.push(options.residual.reshape([1, ...options.residual.shape]));
  try {
    const y = run(views[0]!, views[1] ? { ...options, residual: views[1] } : options);
    const view = y.reshape(y.shape.slice(1));
    y.dispose();
    return view;
  } finally {
    for (const v of views) v.dispose();
  }
}

/**
 * The job `engine.tune` runs for a layer met during its function: by then the call's own tensors may be
 * freed, so the residual is replaced by zeros of its shape; a layer packed for one call only is skipped.
 */
export function convTuneJob(rt: Runtime, weights: Tensor, epilogue: ConvEpilogue, measure: (epilogue: ConvEpilogue) => Promise<unknown>): () => Promise<unknown> {
  const residualShape = epilogue.residual?.shape;
  return async () => {
    if (weights.isDisposed) return;
    const residual = residualShape && zeros(rt, residualShape);
    try {
      await measure(residual ? { ...epilogue, residual } : epilogue);
    } finally {
      residual?.dispose();
    }
  };
}

// ---- kernel launches ----

/** Sizes of one kernel launch, named as the shaders' uniform struct (pt/pl may be negative: cropping). */
export interface ConvGeometry {
  n: number; c: number; h: number; w: number;
  o: number; ho: number; wo: number;
  cin_g: number; cout_g: number; kh: number; kw: number;
  sh: number; sw: number; dh: number; dw: number;
  pt: number; pl: number;
}

/**
 * Where a launch's output pixel (oh, ow) is stored: row out_oh + oh·out_sh, column out_ow + ow·out_sw of an
 * out_h x out_w plane. A plain convolution fills its whole output (steps 1, offsets 0); a transposed
 * convolution's phase fills every stride-th pixel.
 */
export interface OutputMap {
  out_h: number; out_w: number;
  out_sh: number; out_sw: number;
  out_oh: number; out_ow: number;
}

/** The map of a launch that writes its whole (Ho, Wo) output. */
export function denseMap(g: ConvGeometry): OutputMap {
  return { out_h: g.ho, out_w: g.wo, out_sh: 1, out_sw: 1, out_oh: 0, out_ow: 0 };
}

/** One convolution kernel launch into (part of) an output tensor. */
export interface ConvLaunch {
  rt: Runtime;
  input: Tensor;
  /** Packed (KH, KW, C/groups, Opad) weights. */
  weights: BufferBinding;
  /** The same weights as f16, made on first use (for `direct-f16`). */
  halfWeights: () => BufferBinding;
  bias: Tensor;
  g: ConvGeometry;
  map: OutputMap;
  epilogue: ResolvedEpilogue;
  out: Tensor;
  label: string;
}

/** The conv kernels proper (conv2d adds the gemm route on top). */
export type KernelVariant = 'subgroup' | 'direct' | 'depthwise' | 'igemm' | 'direct-f16';

/** Output channels per invocation of the direct kernels, in vec4s. */
function channelVecs(o: number): number {
  return o <= 4 ? 1 : 2;
}

/** Whether every block of `4·ocv` output channels lies inside one group. */
function blocksInsideGroups(g: ConvGeometry, ocv: number): boolean {
  return g.cin_g === g.c || g.cout_g % (4 * ocv) === 0;
}

/** Invocations per workgroup for `items` independent work items: up to `max`, fewer for small problems. */
export function workgroupFor(items: number, granule: number, max = 64): number {
  let wg = granule;
  while (wg < max && wg < items) wg *= 2;
  return wg;
}

/**
 * The subgroup kernel's block shape for a launch, or null when it does not apply: PX pixels per lane (fewer
 * for narrow rows) and as many channels as keep 8 accumulator vec4s per lane, since narrow rows make each
 * loaded input row serve fewer pixels and so more channels. Channel blocks that span groups (depthwise) take
 * the kernel's GROUPED path, one vec4 of channels.
 */
function subgroupPlan(rt: Runtime, g: ConvGeometry) {
  const sg = fixedSubgroupSize(rt);
  if (sg < 4 || g.sw !== 1 || g.kh === 0 || g.kw === 0) return null;
  const px = Math.min(4, Math.ceil(g.wo / sg));
  let ocv = Math.min(8 / px, Math.ceil(g.o / 4));
  ocv = ocv >= 4 ? 4 : ocv >= 2 ? 2 : 1;
  while (ocv > 1 && !blocksInsideGroups(g, ocv)) ocv /= 2;
  const grouped = !blocksInsideGroups(g, ocv);
  const nv = px + Math.ceil(((g.kw - 1) * g.dw) / sg);
  const nwl = Math.ceil((g.kw * ocv) / sg);
  if (nv > 12 || nwl > 4 || g.kh > 16) return null;
  return { sg, px, ocv, grouped };
}

/**
 * The kernels that apply to a launch, best first by the fixed rule used until one is measured. On CPU
 * adapters: the subgroup kernel when subgroups are 8 or more lanes wide (lavapipe; SwiftShader's 4-lane
 * subgroups gain little and its JIT keeps that kernel's register arrays in memory), then the direct kernel,
 * as barriers cost more than they save there. On GPUs: the tiled implicit GEMM first. The depthwise kernel goes
 * first on every device where the others would gather one input channel per output channel (groups = C), and
 * last where they need not (a dense layer with one input channel). f16 weights come last: they trade precision
 * for bandwidth, so they run only when forced (tuning never picks them).
 */
export function kernelVariants(rt: Runtime, g: ConvGeometry): KernelVariant[] {
  const list: KernelVariant[] = [];
  const depthwise = g.cin_g === 1 && g.sw === 1 && g.dw === 1;
  const perChannel = !blocksInsideGroups(g, channelVecs(g.o));
  if (depthwise && perChannel) list.push('depthwise');
  const subgroup = subgroupPlan(rt, g);
  const igemm = g.cout_g >= 8;
  if (isCpuAdapter(rt)) {
    if (subgroup && subgroup.sg >= 8) list.push('subgroup');
    list.push('direct');
    if (subgroup && subgroup.sg < 8) list.push('subgroup');
    if (igemm) list.push('igemm');
  } else {
    if (igemm) list.push('igemm');
    list.push('direct');
    if (subgroup) list.push('subgroup');
  }
  if (depthwise && !perChannel) list.push('depthwise');
  if (rt.ctx.features['shader-f16'] && blocksInsideGroups(g, channelVecs(g.o))) list.push('direct-f16');
  return list;
}

function dispatch(l: ConvLaunch, s: Shader, overrides: Record<string, number | boolean>, grid: UniformValues, weights: BufferBinding, workgroups: number): void {
  const e = epilogueArgs(l.epilogue, l.input.buffer, l.bias);
  l.rt.dispatch({
    shader: s,
    overrides: { ...overrides, ...e.overrides },
    uniforms: { ...l.g, ...l.map, opad4: paddedChannels(l.g.o) / 4, ...grid, ...e.uniforms },
    bindings: { x: l.input.buffer, w: weights, ...e.bindings, y: l.out.buffer },
    workgroups,
    label: l.label,
  });
}

/** Encodes one launch with a kernel variant (which must be eligible, see {@link kernelVariants}). */
export function launch(l: ConvLaunch, v: KernelVariant): void {
  const g = l.g;
  switch (v) {
    case 'direct':
    case 'direct-f16': {
      const f16 = v === 'direct-f16';
      const ocv = channelVecs(g.o);
      const rowBlocks = Math.ceil(g.wo / 4); // 4 pixels per invocation, fixed in the shader
      const blocks = g.n * g.ho * rowBlocks;
      const wg = workgroupFor(blocks, 8);
      const ocBlocks = Math.ceil(g.o / (4 * ocv));
      const tiles = Math.ceil(blocks / wg);
      dispatch(
        l,
        f16 ? DIRECT_F16 : DIRECT,
        f16 ? { WG: wg, OCV: ocv } : { WG: wg, OCV: ocv, GROUPED: !blocksInsideGroups(g, ocv) },
        { row_blocks: rowBlocks, blocks, oc_blocks: ocBlocks, tiles },
        f16 ? l.halfWeights() : l.weights,
        tiles * ocBlocks,
      );
      return;
    }
    case 'subgroup': {
      const plan = subgroupPlan(l.rt, g);
      if (!plan) throw new ShapeError(`${l.label}: the subgroup kernel does not apply to this problem`);
      const rowBlocks = Math.ceil(g.wo / (plan.sg * plan.px));
      const blocks = g.n * g.ho * rowBlocks;
      const wg = plan.sg * Math.min(64 / plan.sg, workgroupFor(blocks, 1));
      const ocBlocks = Math.ceil(g.o / (4 * plan.ocv));
      const tiles = Math.ceil(blocks / (wg / plan.sg));
      dispatch(
        l,
        SUBGROUP,
        { WG: wg, SG: plan.sg, PX: plan.px, OCV: plan.ocv, KH: g.kh, KW: g.kw, DW: g.dw, GROUPED: plan.grouped },
        { row_blocks: rowBlocks, blocks, oc_blocks: ocBlocks, tiles },
        l.weights,
        tiles * ocBlocks,
      );
      return;
    }
    case 'depthwise': {
      const rowBlocks = Math.ceil(g.wo / 8); // 8 pixels per invocation, fixed in the shader
      const blocks = g.n * g.o * g.ho * rowBlocks;
      // 128 rather than 64: on lavapipe half the workgroups ran a 128-channel 64x64 layer ~1.3x faster.
      const wg = workgroupFor(blocks, 8, 128);
      const tiles = Math.ceil(blocks / wg);
      dispatch(l, DEPTHWISE, { WG: wg }, { row_blocks: rowBlocks, blocks, oc_blocks: 1, tiles }, l.weights, tiles);
      return;
    }
    case 'igemm': {
      const tile = 32;
      const perGroup = Math.ceil(g.cout_g / tile);
      const ocTiles = perGroup * (g.c / g.cin_g);
      const pixelTiles = Math.ceil((g.n * g.ho * g.wo) / tile);
      dispatch(l, IGEMM, {}, { row_blocks: perGroup, blocks: pixelTiles, oc_blocks: ocTiles, tiles: pixelTiles }, l.weights, pixelTiles * ocTiles);
      return;
    }
    default:
      v satisfies never;
  }
}
