/**
 * Runs a Keras functional graph converted from TF.js (src/models/keras-convert.ts) on the engine, NCHW inside.
 *
 * Loading packs every conv's weights once and turns the graph into a flat list of steps, fusing what the
 * conv epilogue `activation(conv + bias) · outputScale + residual` can do: a Conv2D's only consumer
 * Activation becomes its activation, a following MultiplyBeta its output scale, and a following two-input Add
 * its residual, in TensorFlow's order of operations. Every other layer is one engine op. Each tensor is
 * disposed as soon as its last consumer has run, so a forward holds only the live activations (for RDN and
 * RRDN: the dense block's growing concatenation and the skip inputs).
 *
 * A nearest UpSampling2D feeding a SAME conv (RDN's tail: 3·s² channels upsampled, then a 3×3 conv) runs as
 * one conv at the low resolution with s² times the output channels, followed by depthToSpace: for each of
 * the s×s output phases, the kernel taps that land on the same low-resolution pixel are summed at load.
 * Same FLOPs, but no full-resolution copy of the wide input (for esrgan-slim x8 that copy would be
 * 192 × 1024 × 1024 floats, 805 MB, beyond most devices' 128 MiB binding limit).
 */
import type { Engine } from '../engine';
import { SyntheError } from '../errors';
import type { PixelRange } from '../io/image';
import { openSafetensors, type SafetensorsFile, type SafetensorsSource } from '../io/safetensors';
import { formatShape } from '../tensor/shape';
import type { Tensor } from '../tensor/tensor';
import { type PackedConv2d, packConv2dWeight } from '../kernels/conv2d';
import { Checkpoint } from './checkpoint';
import { pixelRangeOption } from './layers';
import type { Model } from './model';
import type { KerasArchitecture } from './keras-convert';
import { type KerasActivation, type KerasGraph, KerasGraphError, type KerasLayer, inferGraph, parseKerasGraph } from './keras-graph-spec';

type Conv2DLayer = Extract<KerasLayer, { class: 'Conv2D' }>;

/** A conv with what was fused into it. `name` is the last fused layer, whose output this step produces. */
interface ConvStep {
  kind: 'conv';
  name: string;
  layer: Conv2DLayer;
  input: string;
  activation: KerasActivation;
  /** Product of the fused MultiplyBeta factors (the epilogue's output scale). */
  beta: number;
  /** Added after the activation (the other input of a fused Add). */
  residual?: string;
  /** Factor of a nearest UpSampling2D folded in front of the conv (see {@link subpixelKernel}). */
  upsample?: number;
}

/** Any other layer, run as it is. */
interface LayerStep {
  kind: 'layer';
  name: string;
  layer: Exclude<KerasLayer, Conv2DLayer | { class: 'InputLayer' }>;
}

type Step = ConvStep | LayerStep;

/** A loaded graph: `forward` maps (N, C, H, W) in the model's pixel range to (N, C', H·scale, W·scale). */
export interface KerasGraphModel {
  readonly arch: KerasArchitecture;
  readonly graph: KerasGraph;
  /** Upscaling factor of the graph. */
  readonly scale: number;
  /** Value range of input and output pixels (from `synthe.pixel_range`), undefined if the file does not say. */
  readonly pixelRange: PixelRange | undefined;
  readonly inputChannels: number;
  readonly outputChannels: number;
  /** The widest activation, in channels at the output resolution (what sizes an upscaler's tiles). */
  readonly maxChannels: number;
  /** Runs the graph; the result is a new tensor the caller disposes. The input is left alone. */
  forward(input: Tensor): Tensor;
  /** Frees the weights. */
  dispose(): void;
}

/**
 * Loads a converted Keras graph from a safetensors file (or anything `openSafetensors` opens): reads
 * `synthe.graph`, checks it against the tensors, and packs the conv weights.
 *
 * @throws KerasGraphError when the graph is missing, malformed or does not fit the weights; CheckpointError
 *   naming missing or unexpected tensors.
 */
export async function loadKerasGraphModel(
  engine: Engine,
  source: SafetensorsFile | SafetensorsSource,
  label = typeof source === 'string' ? source : source instanceof URL ? source.href : 'keras graph',
): Promise<KerasGraphModel> {
  if (isFile(source)) return loadFromFile(engine, source, label);
  const file = await openSafetensors(source);
  try {
    return await loadFromFile(engine, file, label);
  } finally {
    await file.close();
  }
}

async function loadFromFile(engine: Engine, file: SafetensorsFile, label: string): Promise<KerasGraphModel> {
  const text = file.metadata['synthe.graph'];
  if (text === undefined) {
    throw new KerasGraphError(`${label}: no synthe.graph metadata; convert TF.js models with tfjsToSafetensors (src/models/keras-convert.ts)`);
  }
  const graph = parseKerasGraph(text, label);
  if (graph.inputs.length !== 1 || graph.outputs.length !== 1) {
    throw new KerasGraphError(`${label}: forward takes one input and returns one output; this graph has ${graph.inputs.length} and ${graph.outputs.length}`);
  }
  const ckpt = new Checkpoint(engine, file, label);
  const convs = graph.layers.filter((l): l is Conv2DLayer => l.class === 'Conv2D');
  const shapes = inferGraph(graph, label, (name) => {
    const shape = file.has(`${name}.weight`) ? file.info(`${name}.weight`).shape : undefined;
    return shape?.length === 4 ? shape[1] : undefined;
  });
  const steps = planSteps(graph);
  const upsamples = new Map(steps.flatMap((st) => (st.kind === 'conv' && st.upsample !== undefined ? [[st.layer.name, st.upsample] as const] : [])));
  const packed = new Map<string, PackedConv2d>();
  try {
    for (const layer of convs) {
      const cin = shapes.channels.get(layer.inbound[0]!)! / layer.groups;
      const shape = [layer.filters, cin, ...layer.kernel_size] as [number, number, number, number];
      const upsample = upsamples.get(layer.name);
      let weight: Tensor;
      let bias: Tensor | undefined;
      if (upsample === undefined) {
        weight = await ckpt.tensor(`${layer.name}.weight`, shape);
        bias = layer.use_bias ? await ckpt.tensor(`${layer.name}.bias`, [layer.filters]) : undefined;
      } else {
        const folded = subpixelKernel(await ckpt.array(`${layer.name}.weight`, shape), shape, upsample);
        weight = engine.tensor(folded.weight, folded.shape);
        const b = layer.use_bias ? await ckpt.array(`${layer.name}.bias`, [layer.filters]) : undefined;
        // Output channel (i·s + j)·O + o is phase (i, j) of channel o, depthToSpace's order.
        bias = b && engine.tensor(Float32Array.from({ length: folded.shape[0] }, (_, k) => b[k % layer.filters]!), [folded.shape[0]]);
      }
      try {
        packed.set(layer.name, packConv2dWeight(engine.runtime, weight, {
          bias,
          stride: layer.strides,
          dilation: layer.dilation_rate,
          groups: layer.groups,
          // Stride-1 SAME is torch's 'same' (the odd pixel at the end, as TensorFlow); strided SAME depends on
          // the input size, so those inputs are padded per call instead.
          padding: layer.padding === 'same' && layer.strides.every((s) => s === 1) ? 'same' : 'valid',
        }));
      } finally {
        weight.dispose();
        bias?.dispose();
      }
    }
    ckpt.finish();
  } catch (error) {
    for (const p of packed.values()) p.dispose();
    throw error;
  }
  const range = file.metadata['synthe.pixel_range'];
  const arch = file.metadata['synthe.arch'];
  const outScale = shapes.scale.get(graph.outputs[0]!)!;
  return new GraphModel(engine, graph, steps, packed, {
    arch: arch === 'rdn' || arch === 'rrdn' ? arch : 'keras',
    scale: outScale,
    maxChannels: Math.max(...[...shapes.channels].map(([name, c]) => c * (shapes.scale.get(name)! / outScale) ** 2)),
    pixelRange: range === '0-1' || range === '0-255' || range === '-1-1' ? range : undefined,
    inputChannels: shapes.channels.get(graph.inputs[0]!)!,
    outputChannels: shapes.channels.get(graph.outputs[0]!)!,
  });
}

/** Orders the graph into steps, fusing conv epilogues (see the module comment). */
export function planSteps(graph: KerasGraph): Step[] {
  const byName = new Map(graph.layers.map((l) => [l.name, l]));
  const consumers = new Map<string, string[]>(graph.layers.map((l) => [l.name, []]));
  for (const layer of graph.layers) for (const from of layer.inbound) consumers.get(from)!.push(layer.name);
  const outputs = new Set(graph.outputs);
  /** The one layer that consumes `name`, if it has exactly one and is not a graph output. */
  const soleConsumer = (name: string) => {
    const list = consumers.get(name)!;
    return list.length === 1 && !outputs.has(name) ? byName.get(list[0]!)! : undefined;
  };
  const fused = new Set<string>();
  const produced = new Set<string>(graph.inputs);
  const steps: Step[] = [];
  for (const layer of graph.layers) {
    if (fused.has(layer.name) || layer.class === 'InputLayer') continue;
    const factor = layer.class === 'UpSampling2D' ? layer.size[0] : undefined;
    const following = factor === undefined ? undefined : soleConsumer(layer.name);
    const subpixel = following?.class === 'Conv2D' && subpixelEligible(following, factor!) ? following : undefined;
    if (layer.class !== 'Conv2D' && !subpixel) {
      steps.push({ kind: 'layer', name: layer.name, layer });
      produced.add(layer.name);
      continue;
    }
    const conv = subpixel ?? (layer as Conv2DLayer);
    const step: ConvStep = { kind: 'conv', name: conv.name, layer: conv, input: layer.inbound[0]!, activation: conv.activation, beta: 1 };
    if (subpixel) {
      step.upsample = factor;
      fused.add(conv.name);
    }
    for (let next = soleConsumer(step.name); next; next = soleConsumer(step.name)) {
      // The epilogue's order is activation, then scale, then residual: fuse only layers that come in that order.
      if (next.class === 'Activation' && step.activation === 'linear' && step.beta === 1 && step.residual === undefined) {
        step.activation = next.activation;
      } else if (next.class === 'MultiplyBeta' && step.residual === undefined) {
        step.beta *= next.beta;
      } else if (next.class === 'Add' && next.inbound.length === 2 && step.residual === undefined && step.upsample === undefined) {
        // The other addend must already exist when the conv runs.
        const other = next.inbound[0] === step.name ? next.inbound[1]! : next.inbound[0]!;
        if (other === step.name || !produced.has(other)) break;
        step.residual = other;
      } else {
        break;
      }
      fused.add(next.name);
      step.name = next.name;
    }
    steps.push(step);
    produced.add(step.name);
  }
  return steps;
}

class GraphModel implements KerasGraphModel {
  readonly arch: KerasArchitecture;
  readonly scale: number;
  readonly pixelRange: PixelRange | undefined;
  readonly inputChannels: number;
  readonly outputChannels: number;
  readonly maxChannels: number;
  private disposed = false;
  /** How many steps read each tensor (outputs are never freed by the forward). */
  private readonly uses = new Map<string, number>();

  constructor(
    private readonly engine: Engine,
    readonly graph: KerasGraph,
    private readonly steps: readonly Step[],
    private readonly packed: Map<string, PackedConv2d>,
    info: Pick<KerasGraphModel, 'arch' | 'scale' | 'pixelRange' | 'inputChannels' | 'outputChannels' | 'maxChannels'>,
  ) {
    ({ arch: this.arch, scale: this.scale, pixelRange: this.pixelRange, inputChannels: this.inputChannels, outputChannels: this.outputChannels, maxChannels: this.maxChannels } = info);
    for (const step of steps) for (const name of reads(step)) this.uses.set(name, (this.uses.get(name) ?? 0) + 1);
  }

  forward(input: Tensor): Tensor {
    if (this.disposed) throw new SyntheError('this model was disposed');
    if (input.rank !== 4 || input.shape[1] !== this.inputChannels) {
      throw new SyntheError(`keras graph: input must be (N, ${this.inputChannels}, H, W), got ${formatShape(input.shape)}`);
    }
    const inputName = this.graph.inputs[0]!;
    const live = new Map<string, Tensor>([[inputName, input]]);
    const remaining = new Map(this.uses);
    try {
      for (const step of this.steps) {
        const get = (name: string) => live.get(name)!;
        live.set(step.name, step.kind === 'conv' ? this.conv(step, get) : this.layer(step.layer, step.layer.inbound.map(get)));
        for (const name of reads(step)) {
          const left = remaining.get(name)! - 1;
          remaining.set(name, left);
          if (left === 0 && name !== inputName && !this.graph.outputs.includes(name)) {
            live.get(name)!.dispose();
            live.delete(name);
          }
        }
      }
      const out = live.get(this.graph.outputs[0]!)!;
      live.delete(this.graph.outputs[0]!);
      return out;
    } finally {
      live.delete(inputName);
      for (const t of live.values()) t.dispose();
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const p of this.packed.values()) p.dispose();
  }

  private conv(step: ConvStep, get: (name: string) => Tensor): Tensor {
    const { layer } = step;
    const input = get(step.input);
    const strided = layer.padding === 'same' && layer.strides.some((s) => s !== 1);
    const x = strided ? this.padZeros(input, [...tfPadding(input.shape[2]!, layer, 0), ...tfPadding(input.shape[3]!, layer, 1)]) : input;
    let y: Tensor;
    try {
      y = this.engine.ops.conv2dPacked(x, this.packed.get(layer.name)!, {
        ...(step.activation === 'linear' ? {} : { activation: { kind: ACTIVATION_KINDS[step.activation] } }),
        ...(step.beta === 1 ? {} : { outputScale: step.beta }),
        ...(step.residual === undefined ? {} : { residual: get(step.residual) }),
      });
    } finally {
      if (x !== input) x.dispose();
    }
    if (step.upsample === undefined) return y;
    const out = this.engine.ops.depthToSpace(y, step.upsample);
    y.dispose();
    return out;
  }

  /** `x` (N, C, H, W) with zero rows and columns around it: [top, bottom, left, right]. */
  private padZeros(x: Tensor, [top, bottom, left, right]: number[]): Tensor {
    let out = x.reshape(x.shape);
    for (const [dim, before, after] of [[2, top!, bottom!], [3, left!, right!]] as const) {
      const zeros = (count: number) => {
        const shape = out.shape.map((d, i) => (i === dim ? count : d));
        return this.engine.tensor(new Float32Array(shape.reduce((p, d) => p * d, 1)), shape);
      };
      const parts = [...(before > 0 ? [zeros(before)] : []), out, ...(after > 0 ? [zeros(after)] : [])];
      if (parts.length === 1) continue;
      const next = this.engine.ops.concat(parts, dim);
      for (const t of parts) t.dispose();
      out = next;
    }
    return out;
  }

  private layer(layer: LayerStep['layer'], inputs: Tensor[]): Tensor {
    const ops = this.engine.ops;
    const x = inputs[0]!;
    switch (layer.class) {
      case 'Activation':
        return layer.activation === 'linear' ? x.reshape(x.shape) : ops[ACTIVATION_KINDS[layer.activation]](x);
      case 'Concatenate':
        // Only channel concatenation gets past inferGraph: NHWC axis 3 is NCHW dim 1.
        return ops.concat(inputs, 1);
      case 'Add':
        return inputs.slice(1).reduce((sum, t, i) => {
          const next = ops.add(sum, t);
          if (i > 0) sum.dispose();
          return next;
        }, x);
      case 'UpSampling2D':
        return ops.interpolate(x, { scaleFactor: layer.size, mode: 'nearest' });
      case 'MultiplyBeta':
        return ops.scale(x, layer.beta);
      case 'PixelShuffle':
        return ops.depthToSpace(x, layer.scale);
      default:
        return layer satisfies never;
    }
  }
}

/** Low-resolution tap offsets of a SAME k-tap kernel after a nearest ×s upsampling: floor((phase + tap − pad) / s). */
function subpixelOffsets(k: number, s: number): { lo: number; hi: number } {
  const pad = (k - 1) / 2;
  return { lo: Math.floor(-pad / s), hi: Math.floor((s - 1 + k - 1 - pad) / s) };
}

/** Whether `conv` after a nearest ×s upsampling can run at the low resolution (symmetric padding there). */
function subpixelEligible(conv: Conv2DLayer, s: number): boolean {
  const plain = conv.padding === 'same' && conv.groups === 1 && [...conv.strides, ...conv.dilation_rate].every((v) => v === 1);
  return plain && conv.kernel_size.every((k) => {
    const { lo, hi } = subpixelOffsets(k, s);
    return k % 2 === 1 && -lo === Math.floor((hi - lo) / 2);
  });
}

/**
 * The low-resolution kernel equivalent to nearest ×s upsampling followed by a SAME conv with `weight`
 * (O, C, KH, KW): (s²·O, C, KH', KW'), output channel (i·s + j)·O + o computing output phase (i, j) of o.
 */
export function subpixelKernel(weight: Float32Array, [o, c, kh, kw]: readonly [number, number, number, number], s: number) {
  const rows = subpixelOffsets(kh, s);
  const cols = subpixelOffsets(kw, s);
  const kh2 = rows.hi - rows.lo + 1;
  const kw2 = cols.hi - cols.lo + 1;
  const shape: [number, number, number, number] = [s * s * o, c, kh2, kw2];
  const out = new Float32Array(shape[0] * c * kh2 * kw2);
  for (let i = 0; i < s; i++) {
    for (let j = 0; j < s; j++) {
      for (let dy = 0; dy < kh; dy++) {
        const ry = Math.floor((i + dy - (kh - 1) / 2) / s) - rows.lo;
        for (let dx = 0; dx < kw; dx++) {
          const rx = Math.floor((j + dx - (kw - 1) / 2) / s) - cols.lo;
          for (let oc = 0; oc < o; oc++) {
            const dst = (((i * s + j) * o + oc) * c * kh2 + ry) * kw2 + rx;
            const src = (oc * c * kh + dy) * kw + dx;
            for (let ic = 0; ic < c; ic++) out[dst + ic * kh2 * kw2] += weight[src + ic * kh * kw]!;
          }
        }
      }
    }
  }
  return { weight: out, shape };
}

/** Engine op names of the Keras activations other than linear. */
const ACTIVATION_KINDS = { relu: 'relu', sigmoid: 'sigmoid', tanh: 'tanh', swish: 'silu' } as const satisfies Record<Exclude<KerasActivation, 'linear'>, string>;

/**
 * TensorFlow's padding along one axis: VALID is none; SAME pads so that the output is ceil(in / stride),
 * putting the odd pixel of the total at the end (bottom/right).
 */
export function tfPadding(size: number, layer: Conv2DLayer, axis: 0 | 1): [number, number] {
  if (layer.padding === 'valid') return [0, 0];
  const stride = layer.strides[axis];
  const span = layer.dilation_rate[axis] * (layer.kernel_size[axis] - 1) + 1;
  const total = Math.max((Math.ceil(size / stride) - 1) * stride + span - size, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/** Tensor names a step reads, with repeats (Add(x, x) reads x twice). */
function reads(step: Step): string[] {
  if (step.kind === 'layer') return step.layer.inbound;
  return step.residual === undefined ? [step.input] : [step.input, step.residual];
}

function isFile(source: unknown): source is SafetensorsFile {
  return typeof source === 'object' && source !== null && 'names' in source && 'float32' in source;
}

/**
 * The `engine.loadModel` entry for converted graphs: the graph as a {@link Model} taking `input` and giving
 * `output`, with the upscaler config (`scale`, `pixelRange`, `maxChannels`) the upscale pipeline reads.
 */
export async function loadKeras(ckpt: Checkpoint, config: Record<string, unknown>): Promise<Model> {
  const graph = await loadFromFile(ckpt.engine, ckpt.file, ckpt.label);
  try {
    if (!graph.pixelRange && config.pixelRange === undefined) {
      throw new SyntheError(`${ckpt.label}: the file has no synthe.pixel_range; pass config.pixelRange ('0-1', '0-255' or '-1-1')`);
    }
    const pixelRange = pixelRangeOption(ckpt, config, graph.pixelRange ?? '0-255');
    const model: Model = {
      arch: graph.arch,
      config: Object.freeze({ scale: graph.scale, pixelRange, maxChannels: graph.maxChannels }),
      inputNames: ['input'],
      forward(inputs) {
        const input = inputs.input;
        if (!input) throw new SyntheError(`${ckpt.label}: forward needs an 'input' tensor (N, ${graph.inputChannels}, H, W)`);
        return { output: graph.forward(input) };
      },
      dispose: () => graph.dispose(),
    };
    return model;
  } catch (error) {
    graph.dispose();
    throw error;
  }
}
